/**
 * The layers of `src/` point one way: a module may import its own folder and
 * the layers below it, never a layer above it or beside it. The table is the
 * one in `../shared/ARCHITECTURE.md` and the README's layout; `deno task
 * check` runs this file too, so a wrong import fails the check before a
 * review has to catch it.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/**
 * Rank of each layer: a module imports only from layers of a lower rank (or
 * its own folder). Layers of equal rank know nothing of each other.
 */
const RANK: Record<string, number> = {
  util: 0,
  actor: 1,
  task: 1,
  manager: 2,
  kernel: 2,
  store: 3,
  transport: 4,
  service: 5,
  "runtime.ts": 6,
  api: 7,
  cli: 8,
  "mod.ts": 9,
};

/** The layer of a path under `src/`: its first segment. */
function layerOf(path: string): string {
  return relative(SRC, path).split("/")[0];
}

/**
 * Every relative import or re-export specifier in `text`, outside comments
 * (a JSDoc `@example` imports `mod.ts` as a user would, and that is fine).
 */
function relativeImports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const specifiers: string[] = [];
  const patterns = [
    /\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g,
    /\bimport\s+["'](\.{1,2}\/[^"']+)["']/g,
    /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) specifiers.push(match[1]);
  }
  return specifiers;
}

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (/\.(ts|js)$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) yield path;
  }
}

Deno.test("every module of src/ imports only its own layer and the layers below", async () => {
  const wrong: string[] = [];
  for await (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    assert.ok(from in RANK, `${relative(SRC, file)}: layer '${from}' is not in the table`);
    for (const specifier of relativeImports(await Deno.readTextFile(file))) {
      const target = resolve(dirname(file), specifier);
      if (!target.startsWith(SRC)) {
        wrong.push(`${relative(SRC, file)} imports ${specifier}, outside src/`);
        continue;
      }
      const to = layerOf(target);
      if (to === from) continue;
      if (!(to in RANK) || RANK[to] >= RANK[from]) {
        wrong.push(`${relative(SRC, file)} (${from}) imports ${specifier} (${to})`);
      }
    }
  }
  assert.deepEqual(wrong, [], `imports against the layer order:\n${wrong.join("\n")}`);
});

Deno.test("the layer check sees every kind of import", () => {
  const text = `import { a } from "./a.ts";\nexport { b } from "../b.ts";\n` +
    `import "./side.ts";\nconst c = await import("../c.ts");\nimport x from "npm:zod";\n` +
    `/** @example import { d } from "../d.ts"; */\n// import "./e.ts";`;
  assert.deepEqual(relativeImports(text).sort(), ["../b.ts", "../c.ts", "./a.ts", "./side.ts"]);
});
