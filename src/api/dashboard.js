// The Zest dashboard: plain JavaScript over the server's WebSocket API.
// The token comes from the URL fragment (#token=…), which never reaches the
// server or its logs; it is kept in sessionStorage (this tab only) and sent
// as the WebSocket subprotocol `token.<token>`. Everything from the server is
// put in the page as text, never as HTML.

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 500;

// ---- small DOM helper ----------------------------------------------------

/** An element with attributes/properties and children (strings become text). */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

const pretty = (value) => typeof value === "string" ? value : JSON.stringify(value, null, 2);
const shortId = (id) => id.slice(0, 8);
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });

function duration(record, now = Date.now()) {
  if (!record.startedAt) return "";
  const ms = (record.finishedAt ?? now) - record.startedAt;
  return ms < 1000
    ? `${ms} ms`
    : ms < 60_000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * A table row's preview of an ended task: the server's `brief` (a JSON
 * preview of the result, or `ename: evalue`). Lists and events carry no
 * outcome; the detail view reads the whole record by id.
 */
function outcomeSummary(brief) {
  if (!brief) return "";
  // A kernel task that only printed or plotted has a null result: not worth showing.
  const text = brief.status === "ok" && brief.text === "null" ? "" : brief.text;
  return text.length > 80 ? text.slice(0, 79) + "…" : text;
}

/** A `data:` URL for a display's image, if it has one. */
function imageSource(display) {
  const data = display.data ?? {};
  for (const type of ["image/png", "image/jpeg", "image/gif", "image/webp"]) {
    if (typeof data[type] === "string") {
      return `data:${type};base64,${data[type].replace(/\s/g, "")}`;
    }
  }
  // An SVG shown through <img> runs no script.
  if (typeof data["image/svg+xml"] === "string") {
    return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(data["image/svg+xml"])}`;
  }
  return undefined;
}

// ---- connection ------------------------------------------------------------

function readToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const fromUrl = fragment.get("token");
  if (fromUrl) {
    sessionStorage.setItem("zest.token", fromUrl);
    // Off the address bar: no shoulder-surfing, no copy-paste of the secret.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("zest.token");
}

/** A WebSocket to the server with request/reply correlation and reconnects. */
class Connection {
  #socket;
  #nextRef = 1;
  #pending = new Map();
  #retryMs = 500;
  #opened = false;

  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.#open();
  }

  #open() {
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/`;
    const socket = new WebSocket(url, ["zest.v1", `token.${this.token}`]);
    this.#socket = socket;
    this.#opened = false;
    socket.addEventListener("open", () => {
      this.#opened = true;
      this.#retryMs = 500;
      this.handlers.open();
    });
    socket.addEventListener("message", (event) => this.#receive(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      for (const { reject } of this.#pending.values()) reject(new Error("connection lost"));
      this.#pending.clear();
      // Never opened: most likely a wrong token (the browser hides the 401).
      this.handlers.close(!this.#opened);
      setTimeout(() => this.#open(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
    });
  }

  #receive(message) {
    if (message.type === "event") return this.handlers.event(message.event);
    const pending = this.#pending.get(message.ref);
    if (!pending) return;
    if (message.type === "error") {
      this.#pending.delete(message.ref);
      // A refused submission names its kind (TaskValidationError, QueueFullError, …).
      return pending.reject(
        new Error(message.name ? `${message.name}: ${message.error}` : message.error),
      );
    }
    if (pending.onReply && message.type === "submit") return pending.onReply(message);
    this.#pending.delete(message.ref);
    pending.resolve(message);
  }

  /** Send a request; resolves with its (last) reply. `onReply` sees a submit's first reply. */
  call(message, onReply) {
    return new Promise((resolve, reject) => {
      if (this.#socket.readyState !== WebSocket.OPEN) return reject(new Error("not connected"));
      const ref = this.#nextRef++;
      this.#pending.set(ref, { resolve, reject, onReply });
      this.#socket.send(JSON.stringify({ ...message, ref }));
    });
  }
}

// ---- state -----------------------------------------------------------------

const state = {
  services: [],
  tasks: new Map(), // id → record (summary or full)
  rows: new Map(), // id → <tr>
  selected: undefined, // id of the task in the detail panel
  connection: undefined,
};

function upsertTask(record) {
  const known = state.tasks.get(record.id);
  // Lists and events carry summaries (no fields, log or outcome; a brief):
  // the task on show keeps what its read by id gave until it is read again.
  state.tasks.set(record.id, { ...known, ...record });
  renderRow(record.id);
  if (record.id === state.selected) renderDetail();
}

// ---- services --------------------------------------------------------------

function renderServices() {
  const list = $("services");
  list.replaceChildren(...state.services.map((service) =>
    el(
      "li",
      { class: "service", dataset: { service: service.name } },
      el(
        "div",
        { class: "service-head" },
        el("strong", {}, service.name),
        el("span", { class: "badge" }, service.kind),
        el("span", { class: `state state-${service.state}` }, service.state),
      ),
      service.kernel &&
        el(
          "div",
          { class: "kernel" },
          el("span", { class: `dot kernel-${service.kernel.status}` }),
          `kernel ${service.kernel.name}: `,
          el("span", { class: "kernel-status" }, service.kernel.status),
        ),
      el(
        "div",
        { class: "depths" },
        el("span", {}, el("b", { class: "queued" }, String(service.queued)), " queued"),
        el("span", {}, el("b", { class: "running" }, String(service.running)), " running"),
      ),
      el(
        "div",
        { class: "types muted" },
        service.taskTypes.map((t) => t.name).join(", ") || "no task types",
      ),
    )
  ));
  renderServiceOptions();
}

let refreshTimer;
/** Queue depths change with every task event: refresh, at most a few times a second. */
function refreshServicesSoon() {
  refreshTimer ??= setTimeout(async () => {
    refreshTimer = undefined;
    try {
      state.services = (await state.connection.call({ type: "services" })).services;
      renderServices();
    } catch { /* reconnecting */ }
  }, 100);
}

// ---- submit form -----------------------------------------------------------

function renderServiceOptions() {
  const select = $("submit-service");
  const previous = select.value;
  const names = state.services.map((s) => s.name);
  if (names.join() !== [...select.options].map((o) => o.value).join()) {
    select.replaceChildren(...names.map((name) => el("option", { value: name }, name)));
    if (names.includes(previous)) select.value = previous;
    renderTypeOptions();
  }
}

function currentService() {
  return state.services.find((s) => s.name === $("submit-service").value);
}

function currentType() {
  return currentService()?.taskTypes.find((t) => t.name === $("submit-type").value);
}

function renderTypeOptions() {
  const types = currentService()?.taskTypes ?? [];
  $("submit-type").replaceChildren(...types.map((t) => el("option", { value: t.name }, t.name)));
  renderFields();
}

/** How a JSON Schema property is edited: a typed input when simple, else JSON text. */
function fieldKind(schema) {
  if (Array.isArray(schema.enum)) return "enum";
  if (["string", "number", "integer", "boolean"].includes(schema.type)) return schema.type;
  return "json";
}

function renderFields() {
  const type = currentType();
  $("submit-description").textContent = type
    ? [
      type.description,
      type.parallel ? "parallel" : "serial",
      type.kind === "code" ? "runs on a kernel" : "",
    ]
      .filter(Boolean).join(" · ")
    : "";
  const fieldset = $("submit-fields");
  const schema = type?.schema ?? {};
  const properties = schema.type === "object" ? schema.properties ?? {} : undefined;
  if (!properties) {
    fieldset.replaceChildren(
      el(
        "label",
        { class: "field" },
        "fields (JSON)",
        el("textarea", { name: "$fields", rows: 4, spellcheck: false, value: "{}" }),
      ),
    );
    return;
  }
  const required = new Set(schema.required ?? []);
  fieldset.replaceChildren(
    ...Object.entries(properties).map(([name, property]) => {
      const kind = fieldKind(property);
      const label = el(
        "span",
        {},
        name,
        required.has(name) ? el("span", { class: "required", title: "required" }, " *") : "",
      );
      const hint = property.description
        ? el("small", { class: "muted" }, property.description)
        : undefined;
      const common = { name, dataset: { kind }, title: property.description };
      let input;
      if (kind === "enum") {
        input = el(
          "select",
          common,
          required.has(name) ? [] : el("option", { value: "" }, ""),
          property.enum.map((v) => el("option", { value: JSON.stringify(v) }, String(v))),
        );
        if (property.default !== undefined) input.value = JSON.stringify(property.default);
      } else if (kind === "boolean") {
        input = el("input", { ...common, type: "checkbox", checked: property.default === true });
        return el("label", { class: "field check" }, input, label, hint);
      } else if (kind === "number" || kind === "integer") {
        input = el("input", {
          ...common,
          type: "number",
          step: kind === "integer" ? "1" : "any",
          value: property.default ?? "",
          placeholder: kind,
        });
      } else if (kind === "string") {
        input = el("input", {
          ...common,
          type: "text",
          value: property.default ?? "",
          placeholder: "text",
          autocomplete: "off",
        });
      } else {
        input = el("textarea", {
          ...common,
          rows: 2,
          spellcheck: false,
          value: property.default === undefined ? "" : JSON.stringify(property.default),
          placeholder: "JSON",
        });
      }
      return el("label", { class: "field" }, label, input, hint);
    }),
  );
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what}: not valid JSON (${error.message})`);
  }
}

/** The form's fields as JSON values; empty optional inputs are left out so defaults apply. */
function collectFields() {
  const inputs = $("submit-fields").querySelectorAll("[name]");
  if (inputs.length === 1 && inputs[0].name === "$fields") {
    return parseJson(inputs[0].value || "{}", "fields");
  }
  const fields = {};
  for (const input of inputs) {
    const kind = input.dataset.kind;
    if (kind === "boolean") {
      fields[input.name] = input.checked;
      continue;
    }
    if (input.value === "") continue;
    fields[input.name] = kind === "string"
      ? input.value
      : kind === "number" || kind === "integer"
      ? Number(input.value)
      : parseJson(input.value, input.name);
  }
  return fields;
}

async function submitTask(event) {
  event.preventDefault();
  const message = $("submit-message");
  message.className = "message";
  try {
    const attributesText = $("submit-attributes").value.trim();
    const request = {
      type: "submit",
      service: $("submit-service").value,
      task: { type: $("submit-type").value, fields: collectFields() },
      attributes: attributesText ? parseJson(attributesText, "attributes") : undefined,
    };
    $("submit-button").disabled = true;
    // Resolves with the outcome; the first reply (the id) comes through the callback.
    const { outcome } = await state.connection.call(request, ({ taskId }) => {
      $("submit-button").disabled = false;
      message.textContent = `Submitted ${shortId(taskId)}…`;
      select(taskId);
    });
    message.textContent = outcome.status === "ok"
      ? `${shortId(outcome.id)} succeeded`
      : `${shortId(outcome.id)} failed: ${outcome.ename}: ${outcome.evalue}`;
    message.classList.add(outcome.status === "ok" ? "ok" : "error");
  } catch (error) {
    message.textContent = error.message;
    message.classList.add("error");
  } finally {
    $("submit-button").disabled = false;
  }
}

// ---- task table ------------------------------------------------------------

function renderRow(id) {
  const record = state.tasks.get(id);
  let row = state.rows.get(id);
  if (!row) {
    row = el("tr", {
      tabIndex: 0,
      dataset: { id },
      onclick: () => select(id),
      onkeydown: (e) => e.key === "Enter" && select(id),
    });
    state.rows.set(id, row);
    insertRow(row, record);
  }
  row.classList.toggle("selected", id === state.selected);
  row.dataset.state = record.state;
  row.replaceChildren(
    el("td", { class: "muted" }, clock(record.createdAt)),
    el(
      "td",
      {},
      el("span", { class: "type" }, record.type),
      " ",
      el("code", { class: "muted" }, shortId(id)),
    ),
    el("td", {}, record.service),
    el("td", {}, el("span", { class: `state state-${record.state}` }, record.state)),
    el("td", { class: "num duration" }, duration(record)),
    el("td", { class: `outcome ${record.brief?.status ?? ""}` }, outcomeSummary(record.brief)),
  );
  $("no-tasks").hidden = state.rows.size > 0;
  $("counts").textContent = `${state.tasks.size} task${state.tasks.size === 1 ? "" : "s"}`;
}

/** Newest first; drop the oldest rows beyond MAX_ROWS. */
function insertRow(row, record) {
  const body = $("tasks");
  const later = [...body.children].find((other) =>
    state.tasks.get(other.dataset.id).createdAt < record.createdAt
  );
  body.insertBefore(row, later ?? null);
  while (body.children.length > MAX_ROWS) {
    const last = body.lastElementChild;
    state.rows.delete(last.dataset.id);
    state.tasks.delete(last.dataset.id);
    last.remove();
  }
}

// ---- task detail -----------------------------------------------------------

/** Read the selected task in full (fields, log) again, e.g. once it ended. */
async function refreshSelected() {
  const id = state.selected;
  if (!id) return;
  try {
    const { record } = await state.connection.call({ type: "get", taskId: id });
    if (record && id === state.selected) upsertTask(record);
  } catch { /* reconnecting */ }
}

/** Show task `id` in the detail view, read in full by id; only it keeps its whole record. */
async function select(id) {
  const previous = state.selected;
  state.selected = id;
  if (previous && previous !== id) {
    state.rows.get(previous)?.classList.remove("selected");
    const record = state.tasks.get(previous);
    if (record) {
      const { fields: _fields, log: _log, outcome: _outcome, ...summary } = record;
      state.tasks.set(previous, summary);
    }
  }
  state.rows.get(id)?.classList.add("selected");
  renderDetail();
  await refreshSelected();
}

/** An <img> for a rich output, at the size the kernel asked for (IPython's `Image(width=…)`). */
function image(display) {
  const img = el("img", { src: imageSource(display), alt: "kernel output" });
  const type = Object.keys(display.data).find((t) => t.startsWith("image/"));
  const metadata = display.metadata?.[type] ?? {};
  if (metadata.width) img.width = metadata.width;
  if (metadata.height) img.height = metadata.height;
  return img;
}

function section(title, ...content) {
  return el("section", {}, el("h3", {}, title), ...content);
}

/**
 * HTML from a kernel (a pandas DataFrame, IPython's `HTML(…)`) rendered in a
 * frame with an empty `sandbox`: an opaque origin, no script, form, popup or
 * navigation of this page. The frame's document also keeps this page's
 * Content-Security-Policy, so it loads nothing from elsewhere either.
 */
function htmlFrame(html) {
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", ""); // before the document is set: every restriction applies
  frame.className = "html-output";
  frame.title = "HTML output";
  // The sandbox hides the document's real height: estimate it from its rows and lines.
  const lines = (html.match(/<(tr|br|p|li|div|h[1-6])[\s>/]/gi) ?? []).length + 1;
  frame.height = String(Math.min(384, Math.max(48, lines * 26 + 16)));
  frame.srcdoc = html;
  return frame;
}

/** A display or the result's bundle, as its richest form: an image, HTML, else its text. */
function richOutput(output) {
  if (imageSource(output)) return image(output);
  const data = output.data ?? {};
  if (typeof data["text/html"] === "string") return htmlFrame(data["text/html"]);
  if (typeof data["text/plain"] === "string") return el("pre", {}, data["text/plain"]);
  return undefined;
}

/** The result: as an image or HTML when the kernel gave one, else its value. */
function resultView(outcome) {
  const bundle = outcome.execution?.executeResult;
  const rich = bundle && (imageSource(bundle) || typeof bundle.data?.["text/html"] === "string");
  return rich
    ? el("div", { class: "outputs" }, richOutput(bundle))
    : el("pre", { class: "result" }, pretty(outcome.result));
}

function renderDetail() {
  const panel = $("detail");
  const record = state.tasks.get(state.selected);
  panel.hidden = !record;
  if (!record) return;
  const outcome = record.outcome;
  const execution = outcome?.execution;
  const outputs = (execution?.displays ?? []).map(richOutput).filter(Boolean);
  const parts = [
    el(
      "header",
      {},
      el("h2", {}, `${record.type} on ${record.service}`),
      el("span", { class: `state state-${record.state}` }, record.state),
      el("span", { class: "spacer" }),
      el("button", { type: "button", class: "quiet", onclick: () => select(undefined) }, "Close"),
    ),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "id"),
      el("dd", {}, el("code", {}, record.id)),
      el("dt", {}, "created"),
      el("dd", {}, new Date(record.createdAt).toLocaleString()),
      el("dt", {}, "duration"),
      el("dd", { class: "duration" }, duration(record) || "—"),
      el("dt", {}, "attempts"),
      el("dd", {}, String(record.attempts)),
      el("dt", {}, "mode"),
      el("dd", {}, record.parallel ? "parallel" : "serial"),
    ),
    ["queued", "running"].includes(record.state) &&
    el("button", {
      type: "button",
      class: "danger",
      onclick: () => state.connection.call({ type: "cancel", taskId: record.id }).catch(() => {}),
    }, "Cancel task"),
    record.fields !== undefined && section("Fields", el("pre", {}, pretty(record.fields))),
    Object.keys(record.attributes ?? {}).length > 0 &&
    section("Attributes", el("pre", {}, pretty(record.attributes))),
    outcome?.status === "ok" && (outcome.result !== null || !execution) &&
    section("Result", resultView(outcome)),
    outcome?.status === "error" &&
    section(
      "Error",
      el("p", { class: "error-line" }, `${outcome.ename}: ${outcome.evalue}`),
      outcome.traceback && el("pre", { class: "traceback" }, outcome.traceback),
    ),
    outputs.length > 0 && section("Outputs", el("div", { class: "outputs" }, outputs)),
    execution?.stdout && section("stdout", el("pre", { class: "stdout" }, execution.stdout)),
    execution?.stderr && section("stderr", el("pre", { class: "stderr" }, execution.stderr)),
    execution?.code &&
    el(
      "details",
      {},
      el(
        "summary",
        {},
        `Code that ran${execution.executionCount ? ` [${execution.executionCount}]` : ""}`,
      ),
      el("pre", {}, execution.code),
    ),
    record.log && section(
      "Log",
      el(
        "table",
        { class: "log" },
        el(
          "tbody",
          {},
          record.log.map((entry) =>
            el(
              "tr",
              { class: `level-${entry.level}` },
              el("td", { class: "muted" }, clock(entry.at)),
              el("td", {}, entry.state ?? entry.level),
              el("td", {}, entry.message),
            )
          ),
        ),
      ),
    ),
  ];
  panel.replaceChildren(...parts.filter(Boolean));
}

// ---- wiring ----------------------------------------------------------------

function setConnection(text, kind) {
  const pill = $("connection");
  pill.textContent = text;
  pill.dataset.state = kind;
}

async function load() {
  const connection = state.connection;
  const [{ services }, { records }] = await Promise.all([
    connection.call({ type: "services" }),
    connection.call({ type: "list", limit: MAX_ROWS }),
    connection.call({ type: "subscribe" }),
  ]);
  state.services = services;
  renderServices();
  for (const record of records.reverse()) upsertTask(record);
}

function connect(token) {
  $("login").hidden = true;
  $("app").hidden = false;
  state.connection = new Connection(token, {
    open: () => {
      setConnection("live", "live");
      load().catch((error) => setConnection(error.message, "down"));
    },
    close: (neverOpened) => {
      if (neverOpened) {
        setConnection("cannot connect: wrong token or server down", "down");
        $("login").hidden = false;
      } else setConnection("reconnecting…", "connecting");
    },
    event: (event) => {
      if (event.kind === "task") {
        upsertTask(event.record);
        refreshServicesSoon();
        // Events carry no log: read the whole record of the task on show.
        if (event.record.id === state.selected) refreshSelected();
      } else if (event.kind === "service") {
        // A kernel's status changed: no task event would have said so.
        state.services = state.services.map((s) =>
          s.name === event.service.name ? event.service : s
        );
        renderServices();
      } else if (event.kind === "log" && event.id === state.selected) {
        const record = state.tasks.get(event.id);
        if (record?.log) {
          record.log.push(event.entry);
          renderDetail();
        }
      }
    },
  });
}

$("submit-service").addEventListener("change", renderTypeOptions);
$("submit-type").addEventListener("change", renderFields);
$("submit-form").addEventListener("submit", submitTask);
$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("zest.token", $("login-token").value.trim());
  location.reload();
});

// Running tasks' durations tick; kernel status has no events, so poll it.
setInterval(() => {
  for (const [id, record] of state.tasks) {
    if (record.state === "running") {
      state.rows.get(id)?.querySelector(".duration")?.replaceChildren(duration(record));
    }
  }
  if (state.tasks.get(state.selected)?.state === "running") {
    $("detail").querySelector(".duration")?.replaceChildren(
      duration(state.tasks.get(state.selected)),
    );
  }
}, 500);
setInterval(() => state.connection && refreshServicesSoon(), 3_000);

const token = readToken();
if (token) connect(token);
else {
  $("app").hidden = true;
  $("login").hidden = false;
  setConnection("no token", "down");
}
