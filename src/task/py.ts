/**
 * The `py` template tag: builds Python source in which every interpolated
 * value is encoded as a Python literal, and checks that each one sits where
 * Python (as IPython hands it over) reads a value, so data can never become
 * code.
 *
 * Self-contained on purpose: it imports nothing from the project.
 *
 * @module
 */

/**
 * A value to be encoded as a Python tuple (JavaScript has no tuple type).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PyTuple, pyLiteral } from "./py.ts";
 * assert.equal(pyLiteral(new PyTuple([1, "a"])), '(1, "a")');
 * assert.equal(pyLiteral(new PyTuple([1])), "(1,)"); // a one-element tuple keeps its comma
 * ```
 */
export class PyTuple {
  /** Wrap `items`; they are encoded element by element like an array. */
  constructor(readonly items: readonly unknown[]) {}
}

/**
 * Mark `items` to be encoded as a Python tuple instead of a list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { py, pyTuple } from "./py.ts";
 * assert.equal(py`shape = ${pyTuple([2, 3])}`, "shape = (2, 3)");
 * ```
 */
export function pyTuple(items: readonly unknown[]): PyTuple {
  return new PyTuple(items);
}

/**
 * Encode one value as a Python literal.
 *
 * Strings become double-quoted literals in which everything but printable
 * ASCII is escaped, so the literal is pure ASCII and cannot be closed early.
 * Safe integers become `int`, other numbers `float` (`-0.0` included; NaN
 * and the infinities as `(1e999-1e999)`, `(1e999)`, `(-1e999)`: literals,
 * not calls of a `float` the kernel could redefine), bigints `int`,
 * booleans `True`/`False`, `null` `None`, arrays `list`, {@link PyTuple}
 * `tuple`, plain objects and Maps `dict`, `Uint8Array` `bytes`. Anything
 * else throws a `TypeError` that names where the value sits, e.g.
 * `value[2].x`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pyLiteral } from "./py.ts";
 * assert.equal(
 *   pyLiteral({ name: 'say "hi"\n', ok: true, n: [1, 2.5, null] }),
 *   String.raw`{"name": "say \"hi\"\n", "ok": True, "n": [1, 2.5, None]}`,
 * );
 * assert.throws(() => pyLiteral({ at: [1, new Date()] }), /value\.at\[1\]/);
 * ```
 */
export function pyLiteral(value: unknown): string {
  return encode(value, "value", new Set());
}

/**
 * Template tag that builds Python source: the template text is kept as
 * written (raw, like `String.raw`, so `"\n"` inside Python code stays an
 * escape for Python), and each `${value}` is replaced by
 * {@link pyLiteral}`(value)`.
 *
 * A literal is only safe where Python reads it as a value, so the template
 * text is checked (once per call site) and a `TypeError` names the first
 * interpolation that sits anywhere else: inside a string literal (any
 * quotes, any prefix, f-strings included), inside a comment, glued to the
 * character before or after it (`f${x}` would make an f-string, `abc${x}`
 * or `1${x}` one token), or where IPython does not read Python: an IPython
 * command line (`!…`, `%…`, `x = !…`), a line with a `?` help request, a
 * `%%` cell magic, a pasted session's prompts, anything after an autocall
 * line (`,f a`) or after text Python cannot tokenize. A negative number
 * followed by `**`, `.`, `[` or `(` (and any number followed by `.`) is put
 * in parentheses, so `${-3} ** 2` is 9.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { py } from "./py.ts";
 * const nodeId = "q0_rabi";
 * assert.equal(
 *   py`calibration_graph.nodes[${nodeId}].maintain()`,
 *   'calibration_graph.nodes["q0_rabi"].maintain()',
 * );
 * const name = 'x" + __import__("os").system("id") + "';
 * // The value stays one str literal:
 * assert.equal(
 *   py`print("Hello " + ${name})`,
 *   String.raw`print("Hello " + "x\" + __import__(\"os\").system(\"id\") + \"")`,
 * );
 * // Inside the quotes it would not be a value: refused.
 * assert.throws(() => py`print("Hello ${name}")`, TypeError);
 * ```
 */
export function py(strings: TemplateStringsArray, ...values: unknown[]): string {
  const plan = templatePlan(strings);
  if (plan.error !== undefined) throw new TypeError(plan.error);
  let code = strings.raw[0];
  values.forEach((value, index) => {
    let literal: string;
    try {
      literal = pyLiteral(value);
    } catch (error) {
      if (error instanceof TypeError) {
        throw new TypeError(`${error.message} (interpolation ${index + 1} of py\`…\`)`);
      }
      throw error;
    }
    code += grouped(literal, plan.grouping[index]) + strings.raw[index + 1];
  });
  return code;
}

/**
 * What follows an interpolation, when it binds tighter than a literal's
 * sign or digits: `**`, `[` and `(` would apply to `3` in `-3` (so `-3 ** 2`
 * is -9), and `.` would also extend a number (`1.e5`, `1.real`).
 */
type Grouping = "negative" | "number";

/** The verdict on one template's text, computed once per call site. */
interface TemplatePlan {
  /** The message for the first interpolation that is not where a value goes. */
  readonly error?: string;
  /** Per interpolation, whether its literal may need parentheses. */
  readonly grouping: readonly (Grouping | undefined)[];
}

/**
 * A tagged template's strings array is one frozen object per call site, so
 * the check runs once per site. Unfrozen arrays (a direct `py([...])` call)
 * could change after the check and are scanned every time.
 */
const templatePlans = new WeakMap<TemplateStringsArray, TemplatePlan>();

function templatePlan(strings: TemplateStringsArray): TemplatePlan {
  const cached = templatePlans.get(strings);
  if (cached !== undefined) return cached;
  const plan = scanTemplate(strings.raw);
  if (Object.isFrozen(strings) && Object.isFrozen(strings.raw)) templatePlans.set(strings, plan);
  return plan;
}

function grouped(literal: string, grouping: Grouping | undefined): string {
  if (grouping === undefined) return literal;
  const first = literal.charCodeAt(0);
  const negative = first === 0x2d; // "-"
  const numeric = negative || (first >= 0x30 && first <= 0x39);
  return (grouping === "number" ? numeric : negative) ? `(${literal})` : literal;
}

// ---------------------------------------------------------------------------
// The template check: a Python lexer (CPython's tokenizer rules, run twice:
// f-strings as Python 3.11 and as 3.12+ read them) plus the IPython input
// transformations a kernel applies before Python sees the code.

/** Characters that may stand right before an interpolation in code. */
const OPEN_BEFORE = new Set(" \t\n([{,:;=+-*/%@&|^~<>");
/** Characters that may stand right after an interpolation in code. */
const OPEN_AFTER = new Set(" \t\n)]},:;=+-*/%@&|^<>.[(#");
/** Prefixes (lowercased) that make the quote right after them a string. */
const STRING_PREFIXES = new Set(["r", "u", "b", "br", "rb", "f", "fr", "rf", "t", "tr", "rt"]);
/** Line breaks of `str.splitlines` (IPython splits cells with it) other than \n. */
// deno-lint-ignore no-control-regex -- these control characters are the point
const FOREIGN_LINE_BREAK = /[\r\v\f\x1c-\x1e\x85\u2028\u2029]/;
/** The prompts IPython strips from a pasted session (`PromptStripper`). */
const CLASSIC_FIRST_PROMPT = /^>>>( |$)/;
const CLASSIC_PROMPT = /^(>>>|\.\.\.)( |$)/;
const IPYTHON_PROMPT = /^(((\[nav\]|\[ins\])? )?In \[\p{Nd}+\]: |\s*\.{3,}: ?)/u;
/** How an interpolation is shown in error messages. */
const SLOT = "${…}";

const WHERE = {
  string: "is inside a string literal: the literal's own quotes would end that string " +
    "and the rest of the value would run as code. " +
    'Put the value outside the quotes: py`print("Hello " + ${name})`',
  fstring: "is inside an f-string (or t-string): the literal's own quotes would end it, " +
    "or its text would become part of the f-string and its {fields}, which are code. " +
    'Bind the value to a name first: py`name = ${name}; print(f"Hello {name}")`, ' +
    'or join: py`print("Hello " + ${name})`',
  comment: "is inside a comment, where Python ignores it. Move it out of the comment.",
  command: "is on an IPython command line (one that starts with !, % or ?, or " +
    "assigns from ! or %): IPython hands that line to the shell or a magic as text, " +
    "where a literal is not a value. Call Python instead, e.g. " +
    'py`subprocess.run(["echo", ${text}])`',
  help: "is on a line with a ?, which IPython runs as a help request instead of the code. " +
    "Remove the ?.",
  cellMagic: "is in a %% cell magic, whose body IPython hands to the magic as text, not as " +
    "Python. Use Python instead of the magic.",
  prompt: "is in a template that starts like a pasted session (>>>, ..., In [n]: prompts), " +
    "which IPython strips before running it. Remove the prompts.",
  autocall: (line: number) =>
    `comes after an IPython autocall line (line ${line} starts with /, , or ;), which ` +
    "IPython turns into a call by pasting its text in unquoted, so where later values land " +
    "cannot be told. Write that call in Python.",
  broken: (line: number) =>
    `comes after text that Python cannot tokenize (line ${line}: a string left open at the ` +
    "end of its line, or a lone } or unmatched bracket in an f-string); IPython may rewrite " +
    "the lines around it, so where later values land cannot be told. Fix that text.",
};

/** A token the lexer is inside of; outside all of them it is in code. */
type Frame =
  | { readonly kind: "comment" }
  /** An IPython command line: text up to its end (and backslash continuations). */
  | { readonly kind: "command" }
  /** The rest of the template, after text whose fate nobody can tell. */
  | { readonly kind: "opaque"; readonly why: string }
  | StringFrame;

interface StringFrame {
  readonly kind: "string";
  readonly quote: string;
  readonly size: 1 | 3;
  /** An f- or t-string, whatever the view. */
  readonly formatted: boolean;
  /** Its replacement fields, when they are lexed as code (Python 3.12+). */
  readonly format?: FormatState;
}

/** CPython's f-string tokenizer state (`curly_bracket_depth` and friends). */
interface FormatState {
  readonly raw: boolean;
  /** Brackets open inside replacement fields, the fields' own braces included. */
  depth: number;
  /** `depth` at which the innermost open replacement field started, -1 outside. */
  fieldStart: number;
  /** In a format spec (after `:`), which is text, not code. */
  spec: boolean;
  /** In a replacement field's expression: code. */
  inExpression: boolean;
  /** Inside `\N{…}`, whose `}` is text. */
  namedEscape: boolean;
}

/**
 * Python up to 3.11 reads an f-string like any string and parses its fields
 * afterwards; 3.12 (PEP 701) lexes the fields as code, so a field may hold
 * the f-string's own quotes. A kernel may run either: an interpolation must
 * be in code for both.
 */
function scanTemplate(parts: readonly string[]): TemplatePlan {
  if (parts.length === 1) return { grouping: [] };
  const wholeTemplate = templateError(parts);
  if (wholeTemplate !== undefined) return { error: wholeTemplate, grouping: [] };
  const modern = new TemplateScanner(parts, true).run();
  if (modern.error !== undefined) return modern;
  const legacy = new TemplateScanner(parts, false).run();
  return legacy.error !== undefined ? legacy : modern;
}

/** Problems of the whole text, not of one place in it. */
function templateError(parts: readonly string[]): string | undefined {
  const foreign = parts.join("").match(FOREIGN_LINE_BREAK)?.[0];
  if (foreign !== undefined) {
    const code = foreign.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `py: the text of py\`…\` contains U+${code}, a line break for IPython but not ` +
      `for Python, so where its interpolations land cannot be told. Write it as an escape ` +
      `inside a string (\\u${code}).`;
  }
  // IPython's cleanup before anything else: drop leading blank lines, then
  // dedent by the first line's indentation. A value never starts a line
  // with a prompt or %%, so a placeholder stands for each one.
  const lines = parts.join("\0").split("\n");
  const first = lines.findIndex((line) => !/^[ \t]*$/.test(line));
  if (first === -1) return undefined;
  const indent = /^[ \t]*/.exec(lines[first])![0];
  const [line0, line1 = ""] = lines.slice(first, first + 2).map((line) =>
    line.startsWith(indent) ? line.slice(indent.length) : line
  );
  if (line0.startsWith("%%")) return placeError(parts, 0, WHERE.cellMagic);
  if (
    CLASSIC_FIRST_PROMPT.test(line0) || CLASSIC_PROMPT.test(line1) ||
    IPYTHON_PROMPT.test(line0) || IPYTHON_PROMPT.test(line1)
  ) {
    return placeError(parts, 0, WHERE.prompt);
  }
  return undefined;
}

/**
 * Walks the template text part by part; each boundary between two parts is
 * an interpolation, whose literal is one complete token. Where CPython's
 * tokenizer would stop with an error, the rest is opaque: IPython may still
 * rewrite lines around the error, so nothing after it can be trusted.
 */
class TemplateScanner {
  readonly #parts: readonly string[];
  /** Lex f-string fields as code (3.12+), or f-strings as plain strings. */
  readonly #fieldsAreCode: boolean;
  readonly #stack: Frame[] = [];
  #partIndex = 0;
  /** Open brackets in top-level code (not clamped, like `tokenize`). */
  #depth = 0;
  /** Only blanks since the start of the logical line. */
  #atLineStart = true;
  /** Logical line number, to find every interpolation on a line with a `?`. */
  #line = 0;
  readonly #linesWithHelp = new Set<number>();
  readonly #interpolationLines: number[] = [];
  readonly #grouping: (Grouping | undefined)[] = [];

  constructor(parts: readonly string[], fieldsAreCode: boolean) {
    this.#parts = parts;
    this.#fieldsAreCode = fieldsAreCode;
  }

  run(): TemplatePlan {
    const parts = this.#parts;
    for (; this.#partIndex < parts.length; this.#partIndex++) {
      this.#scan(parts[this.#partIndex]);
      if (this.#partIndex === parts.length - 1) break;
      const where = this.#interpolation(this.#partIndex);
      if (where !== undefined) return this.#plan(this.#partIndex, where);
    }
    return this.#plan(parts.length, undefined);
  }

  /** The first problem, whether found in place or by a `?` later on its line. */
  #plan(stoppedAt: number, where: string | undefined): TemplatePlan {
    // #interpolationLines holds the lines of the interpolations before stoppedAt.
    const help = this.#interpolationLines.findIndex((line) => this.#linesWithHelp.has(line));
    if (help !== -1) {
      return { error: placeError(this.#parts, help, WHERE.help), grouping: [] };
    }
    if (where !== undefined) {
      return { error: placeError(this.#parts, stoppedAt, where), grouping: [] };
    }
    return { grouping: this.#grouping };
  }

  /** Judge the interpolation after `parts[index]`; undefined when it is fine. */
  #interpolation(index: number): string | undefined {
    const frame = this.#stack.at(-1);
    if (frame?.kind === "opaque") return frame.why;
    if (frame?.kind === "comment") return WHERE.comment;
    if (frame?.kind === "command") return WHERE.command;
    if (frame !== undefined) {
      return this.#stack.some((open) => open.kind === "string" && open.formatted)
        ? WHERE.fstring
        : WHERE.string;
    }
    const before = this.#parts[index];
    const after = this.#parts[index + 1];
    const isLast = index + 1 === this.#parts.length - 1;
    if (before === "" && index > 0) return glued(`interpolation ${index}`, "before");
    if (before !== "" && !OPEN_BEFORE.has(before.at(-1)!)) {
      return glued(JSON.stringify(before.at(-1)), "before");
    }
    if (after === "" && !isLast) return glued(`interpolation ${index + 2}`, "after");
    if (after !== "" && !opensAfter(after)) return glued(JSON.stringify(after[0]), "after");
    this.#interpolationLines.push(this.#line);
    this.#grouping.push(groupingBefore(after));
    this.#atLineStart = false;
    return undefined;
  }

  #scan(text: string): void {
    let i = 0;
    while (i < text.length) {
      const frame = this.#stack.at(-1);
      if (frame === undefined) i = this.#code(text, i, undefined);
      else if (frame.kind === "opaque") return;
      else if (frame.kind === "comment") i = this.#comment(text, i);
      else if (frame.kind === "command") i = this.#command(text, i);
      else if (frame.format?.inExpression) i = this.#code(text, i, frame.format);
      else i = this.#stringText(text, i, frame);
    }
  }

  /** One token's worth of code, top-level or in an f-string's replacement field. */
  #code(text: string, i: number, field: FormatState | undefined): number {
    const c = text[i];
    if (c === "\n") {
      if (field === undefined && this.#depth <= 0) {
        this.#line++;
        this.#atLineStart = true;
      }
      return i + 1;
    }
    if (c === " " || c === "\t") return i + 1;
    if (c === "\\" && text[i + 1] === "\n") return i + 2; // explicit line joining
    if (field === undefined && this.#atLineStart) {
      const escape = ipythonEscape(text, i);
      if (escape === "autocall") this.#stack.push(this.#opaque(i, WHERE.autocall));
      else if (escape === "command") this.#stack.push({ kind: "command" });
      if (escape !== undefined) return i + 1;
    }
    this.#atLineStart = false;
    if (c === "#") {
      this.#stack.push({ kind: "comment" });
      return i + 1;
    }
    if (c === '"' || c === "'") return this.#openString(text, i, "");
    if (isWordChar(c)) {
      let end = i + 1;
      while (end < text.length && isWordChar(text[end])) end++;
      const quote = text[end];
      const word = text.slice(i, end).toLowerCase();
      if ((quote === '"' || quote === "'") && STRING_PREFIXES.has(word)) {
        return this.#openString(text, end, word);
      }
      return end;
    }
    if (c === "?") this.#linesWithHelp.add(this.#line);
    if (field !== undefined) return this.#fieldPunctuation(field, text, i);
    if (c === "(" || c === "[" || c === "{") this.#depth++;
    else if (c === ")" || c === "]" || c === "}") this.#depth--;
    else if (c === "=" && this.#depth <= 0) return this.#assignment(text, i);
    return i + 1;
  }

  /** CPython's bracket and `:` rules inside a replacement field. */
  #fieldPunctuation(field: FormatState, text: string, i: number): number {
    const c = text[i];
    if (c === "(" || c === "[" || c === "{") {
      field.depth++;
    } else if (c === ")" || c === "]" || c === "}") {
      if (c !== "}" && field.depth === field.fieldStart + 1) {
        this.#stack.push(this.#opaque(i, WHERE.broken)); // closes the field's `{`
        return i + 1;
      }
      field.depth--;
      if (c === "}" && field.depth === field.fieldStart) {
        field.fieldStart--;
        field.inExpression = false;
        field.spec = false;
      }
    } else if (c === ":" && field.depth - 1 === field.fieldStart) {
      field.spec = true;
      field.inExpression = false;
    }
    return i + 1;
  }

  /** `x = %magic …` and `x = !command …` are IPython command lines from the `%` or `!`. */
  #assignment(text: string, i: number): number {
    if (text[i + 1] === "=") return i + 2; // ==
    if (i > 0 && "=!<>:+-*/%&|^@".includes(text[i - 1])) return i + 1; // +=, :=, …
    let next = i + 1;
    while (text[next] === " " || text[next] === "\t" || text.startsWith("\\\n", next)) {
      next += text[next] === "\\" ? 2 : 1;
    }
    if (text[next] === "%" || text[next] === "!") {
      this.#stack.push({ kind: "command" });
      return next + 1;
    }
    return i + 1;
  }

  #openString(text: string, quoteAt: number, prefix: string): number {
    const quote = text[quoteAt];
    const size = text.startsWith(quote.repeat(3), quoteAt) ? 3 : 1;
    const formatted = prefix.includes("f") || prefix.includes("t");
    const format = formatted && this.#fieldsAreCode
      ? {
        raw: prefix.includes("r"),
        depth: 0,
        fieldStart: -1,
        spec: false,
        inExpression: false,
        namedEscape: false,
      }
      : undefined;
    this.#stack.push({ kind: "string", quote, size, formatted, format });
    return quoteAt + size;
  }

  /** String text (and an f-string's literal text and format specs). */
  #stringText(text: string, i: number, frame: StringFrame): number {
    const c = text[i];
    const format = frame.format;
    if (c === frame.quote) {
      if (frame.size === 1 || text.startsWith(c.repeat(3), i)) {
        this.#stack.pop();
        return i + frame.size;
      }
      return i + 1;
    }
    if (c === "\\") {
      const next = text[i + 1];
      // In an f-string a backslash does not escape a brace: `\{x}` is a field.
      if (format && (next === "{" || next === "}")) return i + 1;
      if (format && !format.raw && next === "N" && text[i + 2] === "{") {
        format.namedEscape = true;
        return i + 3;
      }
      return i + 2; // the escaped character, a quote or a newline included
    }
    if (c === "\n") {
      if (frame.size === 1) {
        this.#stack.push(this.#opaque(i, WHERE.broken)); // unterminated string
        return i;
      }
      if (format?.spec) {
        // A newline ends a triple-quoted f-string's format spec: code again.
        format.spec = false;
        format.inExpression = true;
      }
      return i + 1;
    }
    if (format === undefined) return i + 1;
    if (c === "{") {
      if (text[i + 1] === "{" && !format.spec) return i + 2;
      format.fieldStart++;
      format.depth++;
      format.spec = false;
      format.inExpression = true;
      return i + 1;
    }
    if (c === "}") {
      if (format.namedEscape) {
        format.namedEscape = false;
        return i + 1;
      }
      if (text[i + 1] === "}" && !format.spec && format.depth === 0) return i + 2;
      if (format.depth === 0) {
        this.#stack.push(this.#opaque(i, WHERE.broken)); // a lone `}`
        return i + 1;
      }
      format.depth--;
      format.spec = false;
      if (format.depth === format.fieldStart) format.fieldStart--;
      else format.inExpression = true;
    }
    return i + 1;
  }

  #comment(text: string, i: number): number {
    const end = text.indexOf("\n", i);
    if (end === -1) return text.length;
    this.#stack.pop(); // the newline itself is code
    return end;
  }

  /** IPython takes the line up to its end, continued by a trailing backslash. */
  #command(text: string, i: number): number {
    let end = text.indexOf("\n", i);
    while (end > 0 && text[end - 1] === "\\") end = text.indexOf("\n", end + 1);
    if (end === -1) return text.length;
    this.#stack.pop(); // the newline itself ends the logical line
    return end;
  }

  /** An opaque frame whose reason names the line of `text[i]`. */
  #opaque(i: number, why: (line: number) => string): Frame {
    const before = this.#parts.slice(0, this.#partIndex).join("") +
      this.#parts[this.#partIndex].slice(0, i);
    return { kind: "opaque", why: why(before.split("\n").length) };
  }
}

/**
 * IPython's escapes, as the first token of a logical line. A command's text
 * is quoted into a call (`!ls` → `get_ipython().system('ls')`); an autocall's
 * is pasted in unquoted (`,f a b` → `f("a", "b")`), quotes and all.
 */
function ipythonEscape(text: string, i: number): "command" | "autocall" | undefined {
  const next = text[i + 1];
  switch (text[i]) {
    case "!":
    case "%":
      return next === "=" ? undefined : "command"; // != and %= are operators
    case "?":
      return "command";
    case "/":
      return next === "/" || next === "=" ? undefined : "autocall"; // // and /= too
    case ",":
    case ";":
      return "autocall";
    default:
      return undefined;
  }
}

/** Letters, digits, `_` and anything non-ASCII (Python identifiers allow much of it). */
function isWordChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) || code === 0x5f || code >= 0x80;
}

function opensAfter(after: string): boolean {
  const c = after[0];
  if (c === "!") return after[1] === "="; // only !=
  if (c === "\\") return after[1] === "\n"; // only a line continuation
  return OPEN_AFTER.has(c);
}

function groupingBefore(after: string): Grouping | undefined {
  const rest = after.replace(/^(?:[ \t\n]|\\\n)+/, "");
  if (rest.startsWith(".")) return "number";
  if (rest.startsWith("**") || rest.startsWith("[") || rest.startsWith("(")) return "negative";
  return undefined;
}

function glued(neighbour: string, side: "before" | "after"): string {
  return `is glued to ${neighbour} ${side} it: Python would read the two as one token ` +
    `(f"…" is an f-string, r"…" a raw string, and a name or a number absorbs what touches ` +
    `it). Put a space or an operator between, e.g. py\`print(${"${name}"})\` or ` +
    `py\`x = ${"${value}"} + 1\``;
}

/** `py: interpolation 2 of py`…` (line 3: print("Hello ${…}")) is inside …`. */
function placeError(parts: readonly string[], index: number, where: string): string {
  const before = parts.slice(0, index + 1).join(SLOT);
  const after = parts.slice(index + 1).join(SLOT);
  const line = before.split("\n").length;
  const head = before.slice(before.lastIndexOf("\n") + 1);
  const tailEnd = after.indexOf("\n");
  const tail = tailEnd === -1 ? after : after.slice(0, tailEnd);
  const shownHead = head.length > 40 ? `…${head.slice(-40).trimStart()}` : head.trimStart();
  const shownTail = tail.length > 30 ? `${tail.slice(0, 30).trimEnd()}…` : tail.trimEnd();
  return `py: interpolation ${
    index + 1
  } of py\`…\` (line ${line}: ${shownHead}${SLOT}${shownTail}) ` +
    where;
}

/** `ancestors` holds the containers on the current path, to detect cycles. */
function encode(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case "string":
      return encodeString(value);
    case "number":
      return encodeNumber(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "True" : "False";
    case "undefined":
      throw new TypeError(`py: cannot encode undefined at ${path}`);
    case "function":
      throw new TypeError(`py: cannot encode a function at ${path}`);
    case "symbol":
      throw new TypeError(`py: cannot encode a symbol at ${path}`);
  }
  if (value === null) return "None";
  const container = value as object;
  if (ancestors.has(container)) {
    throw new TypeError(`py: cannot encode a cyclic reference at ${path}`);
  }
  ancestors.add(container);
  try {
    return encodeContainer(container, path, ancestors);
  } finally {
    ancestors.delete(container);
  }
}

function encodeContainer(value: object, path: string, ancestors: Set<object>): string {
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => encode(item, `${path}[${i}]`, ancestors)).join(", ")}]`;
  }
  if (value instanceof PyTuple) {
    const items = value.items.map((item, i) => encode(item, `${path}[${i}]`, ancestors));
    // A one-element tuple needs its trailing comma: `(1)` is just `1`.
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
  }
  if (value instanceof Uint8Array) return encodeBytes(value);
  if (value instanceof Map) return encodeMap(value, path, ancestors);
  if (isPlainObject(value)) return encodeObject(value, path, ancestors);
  const kind = value.constructor?.name ?? "object";
  throw new TypeError(`py: cannot encode an instance of ${kind} at ${path}`);
}

function encodeObject(
  value: Record<string, unknown>,
  path: string,
  ancestors: Set<object>,
): string {
  if (Object.getOwnPropertySymbols(value).length > 0) {
    throw new TypeError(`py: cannot encode a symbol key at ${path}`);
  }
  const entries = Object.keys(value).map((key) =>
    `${encodeString(key)}: ${encode(value[key], propertyPath(path, key), ancestors)}`
  );
  return `{${entries.join(", ")}}`;
}

function encodeMap(value: Map<unknown, unknown>, path: string, ancestors: Set<object>): string {
  const entries = [...value].map(([key, item]) => {
    const keyPath = `${path}.get(${describeKey(key)})`;
    return `${encodeMapKey(key, keyPath)}: ${encode(item, keyPath, ancestors)}`;
  });
  return `{${entries.join(", ")}}`;
}

/** Python dict keys must be hashable: lists and dicts are not. */
function encodeMapKey(key: unknown, path: string): string {
  if (key instanceof PyTuple) {
    key.items.forEach((item, i) => encodeMapKey(item, `${path} key[${i}]`));
    return encode(key, `${path} key`, new Set());
  }
  if (key !== null && typeof key === "object") {
    throw new TypeError(`py: cannot encode an unhashable dict key at ${path}`);
  }
  return encode(key, `${path} key`, new Set());
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : String(key);
}

function propertyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function encodeNumber(value: number): string {
  // Literals, not calls: `float("nan")` would call whatever `float` names in
  // the kernel. 1e999 overflows to inf when Python parses it.
  if (Number.isNaN(value)) return "(1e999-1e999)";
  if (value === Infinity) return "(1e999)";
  if (value === -Infinity) return "(-1e999)";
  if (Object.is(value, -0)) return "-0.0";
  if (Number.isSafeInteger(value)) return String(value);
  // Beyond 2**53 an integral double is almost surely a measurement, not a
  // count: keep it a float. String() gives the shortest round-trip form.
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** Escapes for which Python has a short, readable form. */
const SHORT_ESCAPES = new Map([
  ['"', '\\"'],
  ["\\", "\\\\"],
  ["\n", "\\n"],
  ["\r", "\\r"],
  ["\t", "\\t"],
]);

function encodeString(value: string): string {
  let out = '"';
  // Iterating a string yields code points; a lone surrogate comes out alone
  // and is encoded as \uXXXX, which Python accepts in a str literal.
  for (const char of value) {
    const code = char.codePointAt(0)!;
    const short = SHORT_ESCAPES.get(char);
    if (short) out += short;
    else if (code >= 0x20 && code <= 0x7e) out += char;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + '"';
}

function encodeBytes(value: Uint8Array): string {
  let out = 'b"';
  for (const byte of value) {
    const char = String.fromCharCode(byte);
    const short = SHORT_ESCAPES.get(char);
    if (short) out += short;
    else if (byte >= 0x20 && byte <= 0x7e) out += char;
    else out += `\\x${hex(byte, 2)}`;
  }
  return out + '"';
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}
