/**
 * The dashboard in a real headless Chromium, against the real server: it
 * loads, shows the services, a task submitted through the form appears and
 * completes, a kernel's image output renders, an HTML result renders in a
 * sandboxed frame where its script does not run; the history pages through
 * a filter; a dependency graph is drawn by Graphviz, coloured and recoloured
 * by state, and opens a task when a node is clicked; a stuck service is
 * released; a running task's progress and output grow; schedules are paused,
 * resumed and run; submit options, re-run and delete. Leaves screenshots in
 * test/artifacts/ (dashboard.png, dashboard-graph.png). Also: every file of
 * the page is served, and what the server sends fits the page's own
 * description of the wire.
 */
import assert from "node:assert/strict";
import { basename, dirname, extname, resolve } from "node:path";
import { chromium, type Page as BrowserPage } from "playwright-core";
import { dashboardAsset } from "../src/api/assets.ts";
import type * as Page from "../src/api/dashboard/types.d.ts";
import type { ScheduleInfo } from "../src/manager/schedules.ts";
import type * as Server from "../src/mod.ts";
import type * as Protocol from "../src/transport/websocket/protocol.ts";
import { STORE_PREFIX } from "./fixtures/dashboard_live.config.ts";
import { startReplica, stopAll } from "./helpers/cluster.ts";
import { NatsServer } from "./helpers/nats.ts";
import { api, REPO_ROOT, type ServerProcess, startServer, TEST_TOKEN } from "./helpers/server.ts";

/**
 * Compiles only if `Sent` fits `Read`. The page's modules are type-checked
 * against their own description of the wire (`src/api/dashboard/types.d.ts`):
 * these keep it true to what the server sends and reads.
 */
type Fits<Sent extends Read, Read> = [Sent, Read];
type PageEventKind = Page.TaskEvent["kind"];
type _ThePageReadsWhatTheServerSends = [
  Fits<Server.TaskRecordSummary, Page.TaskSummary>,
  Fits<Server.TaskRecord, Page.TaskRecord>,
  Fits<Server.TaskOutcome, Page.TaskOutcome>,
  Fits<Server.ServiceInfo, Page.ServiceInfo>,
  Fits<Server.ClusterServiceInfo, Page.ServiceInfo>,
  Fits<Server.StoreStats, Page.StoreStats>,
  Fits<ScheduleInfo, Page.ScheduleInfo>,
  // Events of other kinds are ignored by the page.
  Fits<Extract<Server.TaskEvent, { kind: PageEventKind }>, Page.TaskEvent>,
  Fits<
    Exclude<
      Extract<Protocol.ServerMessage, { type: Page.ServerMessage["type"] }>,
      { type: "event" }
    >,
    Page.ServerMessage
  >,
];
/** Compiles only if `T` is `never`. */
type None<T extends never> = T;
/** Keys of each message of `Sent` that the server's message of its `type` does not have. */
type UnknownKeys<Sent extends { type: string }, Read extends { type: string }> = Sent extends Sent
  ? Exclude<keyof Sent, keyof Extract<Read, { type: Sent["type"] }>>
  : never;
type PageSubmit = { type: "submit"; ref: number; task: Page.TaskSubmission };
type ServerSubmit = Extract<Protocol.ClientMessage, { type: "submit" }>;
type ServerList = Extract<Protocol.ClientMessage, { type: "list" }>;
type _TheServerReadsWhatThePageSends = [
  Fits<Page.SocketRequest & { ref: number }, Protocol.ClientMessage>,
  Fits<PageSubmit, Protocol.ClientMessage>,
  // The server's messages are strict: a key it does not know is refused.
  None<UnknownKeys<Page.SocketRequest & { ref: number }, Protocol.ClientMessage>>,
  None<UnknownKeys<PageSubmit, Protocol.ClientMessage>>,
  None<Exclude<keyof Page.TaskSubmission, keyof ServerSubmit["task"]>>,
  None<Exclude<keyof Page.TaskListQuery, keyof NonNullable<ServerList["query"]>>>,
];

const DASHBOARD = new URL("../src/api/dashboard/", import.meta.url);

/** What the browser loads, by extension; the folder's other files are for the type-checker. */
const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/** The one file allowed to compile WebAssembly: the worker that runs Graphviz. */
const WASM_WORKER = "graph_worker.js";

Deno.test("dashboard: every file the page loads is served, with its type and the policy", async () => {
  const served: string[] = [];
  for await (const { name } of Deno.readDir(DASHBOARD)) {
    const path = name === "index.html" ? "/" : `/dashboard/${name}`;
    const response = dashboardAsset(path);
    const type = CONTENT_TYPES[extname(name)];
    if (!type) {
      assert.equal(response, undefined, `${name} is not for the browser, yet served`);
      continue;
    }
    assert.ok(response, `${name} is not served at ${path}: add it to src/api/assets.ts`);
    assert.equal(response.headers.get("content-type"), type);
    const policy = response.headers.get("content-security-policy") ?? "";
    assert.match(policy, /^default-src 'none'; script-src 'self'/);
    assert.equal(policy.includes("wasm-unsafe-eval"), name === WASM_WORKER, name);
    assert.equal(await response.text(), await Deno.readTextFile(new URL(name, DASHBOARD)));
    served.push(name);
  }
  assert.ok(served.includes("main.js") && served.includes("style.css"));
  // Viz.js, from its npm package: the module the Graphviz worker imports.
  const viz = dashboardAsset("/dashboard/viz.js");
  assert.ok(viz, "viz.js is not served");
  assert.equal(viz.headers.get("content-type"), CONTENT_TYPES[".js"]);
  const source = await viz.text();
  assert.match(source, /^\/\*!\nViz\.js \d+\.\d+\.\d+\n/);
  assert.match(source, /export \{[^}]*\binstance\b/);
});

const CHROMIUM_ARGS = [
  "--no-sandbox", // CI runs as root
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** What Chromium logs when a sandbox stops a script: expected from the HTML result. */
const BLOCKED_SCRIPT = /^Blocked script execution in 'about:srcdoc'/;

Deno.test("dashboard: services, live tasks, form submit, kernel image, HTML result", async () => {
  const server = await startServer({ config: "test/fixtures/dashboard.config.ts" });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error" && !BLOCKED_SCRIPT.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });

    await page.goto(`${server.url}#token=${server.token}`);
    await page.locator("#connection", { hasText: "live" }).waitFor();
    // The token left the address bar once read.
    assert.equal(new URL(page.url()).hash, "");

    // Services, with the kernel's status.
    const names = page.locator("#services .service strong");
    await page.locator("#services .service").nth(2).waitFor();
    assert.deepEqual(await names.allTextContents(), ["greeter", "lab", "py"]);
    await page.locator('[data-service="py"] .kernel-status', { hasText: /^idle$/ }).waitFor();

    // A task from another client shows up live, without a reload.
    const { taskId } = await (await api(server, "/tasks", {
      method: "POST",
      body: JSON.stringify({ service: "greeter", type: "Greeting", fields: { name: "Ada" } }),
    })).json();
    const httpRow = page.locator(`#tasks tr[data-id="${taskId}"]`);
    await httpRow.locator(".state-succeeded").waitFor();
    assert.match(await httpRow.textContent() ?? "", /Hello Ada from greeter/);

    // The form, built from the JSON Schema: numbers and an enum.
    await page.selectOption("#submit-service", "lab");
    await page.selectOption("#submit-type", "Sum");
    await page.fill('#submit-fields [name="a"]', "2");
    await page.fill('#submit-fields [name="b"]', "3.5");
    await page.selectOption('#submit-fields [name="unit"]', '"Hz"');
    await page.click("#submit-button");
    await page.locator("#submit-message.ok").waitFor();
    const sumRow = page.locator("#tasks tr", { hasText: "Sum" }).first();
    await sumRow.locator(".state-succeeded").waitFor();
    assert.match(await sumRow.textContent() ?? "", /"5\.5 Hz"/);

    // A validation error is shown, not swallowed.
    await page.fill('#submit-fields [name="a"]', "");
    await page.click("#submit-button");
    await page.locator("#submit-message.error", { hasText: "TaskValidationError" }).waitFor();

    // A kernel task through the form: its image output renders.
    await page.selectOption("#submit-service", "py");
    await page.selectOption("#submit-type", "ShowImage");
    await page.fill('#submit-fields [name="times"]', "2");
    await page.click("#submit-button");
    await page.locator("#submit-message.ok").waitFor({ timeout: 30_000 });
    const images = page.locator("#detail .outputs img");
    await images.nth(1).waitFor();
    // Decoded by the browser: a 4×4 PNG each (DOM types are not in Deno's lib).
    type Image = { complete: boolean; naturalWidth: number; naturalHeight: number };
    const sizes = await images.evaluateAll((nodes: Image[]) =>
      nodes.map((img) => [img.complete, img.naturalWidth, img.naturalHeight])
    );
    assert.deepEqual(sizes, [[true, 4, 4], [true, 4, 4]]);
    assert.match(await page.locator("#detail .stdout").textContent() ?? "", /shown 2/);
    assert.equal(
      await page.locator("#tasks tr", { hasText: "ShowImage" }).first().locator(".outcome")
        .textContent(),
      "2",
    );

    // An HTML result (a DataFrame's, IPython's HTML()) renders as HTML, in a
    // sandboxed frame where the script it carries does not run.
    await page.evaluate(() => {
      const messages: unknown[] = [];
      Object.assign(globalThis, { messages });
      addEventListener("message", (event) => messages.push((event as MessageEvent).data));
    });
    const blocked = page.waitForEvent("console", {
      predicate: (message) => BLOCKED_SCRIPT.test(message.text()),
      timeout: 30_000,
    });
    const { taskId: htmlId } = await (await api(server, "/tasks", {
      method: "POST",
      body: JSON.stringify({ service: "py", type: "ShowHtml", fields: { caption: "T1 <q0>" } }),
    })).json();
    const htmlRow = page.locator(`#tasks tr[data-id="${htmlId}"]`);
    await htmlRow.locator(".state-succeeded").waitFor({ timeout: 30_000 });
    await htmlRow.click();
    const frame = page.locator("#detail iframe.html-output");
    await frame.waitFor();
    assert.equal(await frame.getAttribute("sandbox"), "", "sandboxed, with no allow-scripts");
    const document = page.frameLocator("#detail iframe.html-output");
    await document.locator("td", { hasText: "q0" }).waitFor();
    assert.equal(await document.locator("caption").textContent(), "T1 <q0>");
    await blocked;
    // The script came first in the document: had it run, its text would be there.
    assert.ok(!(await document.locator("body").textContent())?.includes("SCRIPT RAN"));
    assert.deepEqual(
      await page.evaluate(() => (globalThis as { messages?: unknown[] }).messages),
      [],
    );

    await Deno.mkdir(`${REPO_ROOT}/test/artifacts`, { recursive: true });
    await page.screenshot({ path: `${REPO_ROOT}/test/artifacts/dashboard.png`, fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    assert.equal(await server.stop(), 0);
  }
});

/** The config of the tests below: lab, a live-output service, a rig that gets stuck, schedules. */
const LIVE_CONFIG = "test/fixtures/dashboard_live.config.ts";

/** How long a test waits for the page to show something (the machine is shared and noisy). */
const SHOWN_WITHIN_MS = 30_000;

/** A page on a server of its own, and what went wrong in it. */
interface Dashboard {
  page: BrowserPage;
  server: ServerProcess;
}

/**
 * Start a server with `config` and Chromium, open the dashboard, run
 * `test`; then no page error or console error may have happened.
 */
async function withDashboard(config: string, test: (dashboard: Dashboard) => Promise<void>) {
  const server = await startServer({ config });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
    page.setDefaultTimeout(SHOWN_WITHIN_MS);
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${server.url}#token=${server.token}`);
    await page.locator("#connection", { hasText: "live" }).waitFor();
    await test({ page, server });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    const { path } = await read<Server.StoreStats>(server, "/store");
    assert.equal(await server.stop(), 0);
    // The config's store lives in a directory of its own.
    if (path && basename(dirname(path)).startsWith(STORE_PREFIX)) {
      await Deno.remove(resolve(REPO_ROOT, dirname(path)), { recursive: true });
    }
  }
}

/** Submit a task over HTTP; its id. */
async function submit(server: ServerProcess, body: Record<string, unknown>): Promise<string> {
  const response = await api(server, "/tasks", { method: "POST", body: JSON.stringify(body) });
  const reply = await response.json();
  assert.equal(response.status, 202, JSON.stringify(reply));
  return reply.taskId;
}

/** The outcome of task `id`, once it has ended. */
async function outcomeOf(server: ServerProcess, id: string): Promise<Server.TaskOutcome> {
  const response = await api(server, `/tasks/${id}/outcome?wait=30s`);
  assert.equal(response.status, 200, `task ${id} did not end in time`);
  return await response.json();
}

/** A JSON reply of the HTTP API. */
async function read<T>(server: ServerProcess, path: string, method = "GET"): Promise<T> {
  const response = await api(server, path, { method });
  assert.equal(response.status, 200, `${method} ${path}: ${response.status}`);
  return await response.json();
}

/**
 * The page's globals these tests read (DOM types are not in Deno's lib). The
 * functions that read them run in the page (Playwright sends their source),
 * so each casts `globalThis` itself.
 */
type Window = {
  document: { querySelector(selector: string): { textContent: string | null } | null };
  getComputedStyle(element: unknown): { fill: string };
};

/** Wait until the text of the element at `selector` is exactly `text`. */
async function textBecomes(page: BrowserPage, selector: string, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      ([selector, text]) =>
        (globalThis as unknown as Window).document.querySelector(selector)?.textContent === text,
      [selector, text],
    );
  } catch (error) {
    const shown = await page.locator(selector).first().textContent({ timeout: 1_000 })
      .catch(() => null);
    throw new Error(
      `${selector} did not become ${JSON.stringify(text)}: it is ${JSON.stringify(shown)}`,
      { cause: error },
    );
  }
}

/** The ids of the rows of a task table body, top to bottom. */
function rowIds(page: BrowserPage, body: string): Promise<string[]> {
  return page.locator(`${body} tr`).evaluateAll(
    (rows: { dataset: Record<string, string> }[]) => rows.map((row) => row.dataset.id),
  );
}

/** The computed fill of the shape of a graph node. */
function fillOf(page: BrowserPage, id: string): Promise<string> {
  return page.locator(`#graph g#task-${id} > path`).evaluate((shape) =>
    (globalThis as unknown as Window).getComputedStyle(shape).fill
  );
}

Deno.test("dashboard: the history pages through a filter; the store is shown", async () => {
  await withDashboard(LIVE_CONFIG, async ({ page, server }) => {
    const sums: string[] = [];
    for (let i = 0; i < 12; i++) {
      sums.push(await submit(server, { service: "lab", type: "Sum", fields: { a: i, b: 1 } }));
    }
    const fails: string[] = [];
    for (let i = 0; i < 3; i++) {
      fails.push(
        await submit(server, { service: "lab", type: "Fail", fields: { message: `no ${i}` } }),
      );
    }
    for (const id of [...sums, ...fails]) await outcomeOf(server, id);
    // Newest first, as the server lists them.
    const { records } = await read<{ records: { id: string }[] }>(
      server,
      "/tasks?service=lab&type=Sum&state=succeeded&limit=100",
    );
    const expected = records.map((record) => record.id);
    assert.deepEqual([...expected].sort(), [...sums].sort());

    await page.selectOption('#history-filter [name="service"]', "lab");
    await page.fill('#history-filter [name="type"]', "Sum");
    await page.check('#history-filter [name="state"][value="succeeded"]');
    await page.selectOption('#history-filter [name="limit"]', "10");
    await page.click("#history-search");
    await page.locator("#history tr").nth(9).waitFor();
    await page.locator("#history-older:not([hidden])").waitFor();
    assert.deepEqual(await rowIds(page, "#history"), expected.slice(0, 10));
    await page.click("#history-older");
    await page.locator("#history tr").nth(11).waitFor();
    assert.deepEqual(await rowIds(page, "#history"), expected);
    await page.locator("#history-older[hidden]").waitFor({ state: "attached" });
    assert.match(await page.locator("#history-status").textContent() ?? "", /^12 tasks: all/);

    // Another filter: failed tasks of any type, created within the hour around now.
    await page.uncheck('#history-filter [name="state"][value="succeeded"]');
    await page.check('#history-filter [name="state"][value="failed"]');
    await page.check('#history-filter [name="state"][value="cancelled"]');
    await page.fill('#history-filter [name="type"]', "");
    const local = (ms: number) => {
      const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
      return date.toISOString().slice(0, 19);
    };
    await page.fill('#history-filter [name="since"]', local(Date.now() - 3_600_000));
    await page.fill('#history-filter [name="until"]', local(Date.now() + 3_600_000));
    await page.click("#history-search");
    await page.locator("#history-status", { hasText: "3 tasks: all" }).waitFor();
    assert.deepEqual((await rowIds(page, "#history")).sort(), [...fails].sort());
    assert.equal(await page.locator("#history tr .state-failed").count(), 3);
    // Nothing was created after an hour from now.
    await page.fill('#history-filter [name="since"]', local(Date.now() + 3_600_000));
    await page.fill('#history-filter [name="until"]', "");
    await page.click("#history-search");
    await page.locator("#history-status", { hasText: "0 tasks: all" }).waitFor();

    // A row opens its task.
    await page.fill('#history-filter [name="since"]', "");
    await page.click("#history-search");
    await page.locator(`#history tr[data-id="${fails[0]}"]`).click();
    await page.locator("#detail .error-line", { hasText: "RangeError: no 0" }).waitFor();

    // The store: what `GET /store` says, refreshed as tasks come.
    const stats = await read<Server.StoreStats>(server, "/store");
    assert.equal(stats.records, 15);
    await textBecomes(page, '#store [data-stat="records"]', "15");
    assert.equal(await page.locator("#store").getAttribute("data-kind"), stats.kind);
    if (stats.path) {
      assert.equal(await page.locator('#store [data-stat="path"]').textContent(), stats.path);
    }
    await submit(server, { service: "lab", type: "Sum", fields: { a: 1, b: 1 } });
    await textBecomes(page, '#store [data-stat="records"]', "16");
  });
});

Deno.test("dashboard: a dependency graph, drawn by Graphviz, coloured live, opens tasks", async () => {
  await withDashboard(LIVE_CONFIG, async ({ page, server }) => {
    const response = await api(server, "/graphs", {
      method: "POST",
      body: JSON.stringify({
        scan: { service: "lab", type: "Sum", fields: { a: 1, b: 2 } },
        wait: { service: "lab", type: "Sleep", fields: { ms: 60_000 }, after: ["scan"] },
        fit: { service: "lab", type: "Sum", fields: { a: 3, b: 4 }, after: ["wait"] },
      }),
    });
    assert.equal(response.status, 202);
    const { ids } = await response.json() as { ids: Record<string, string> };
    await page.locator(`#tasks tr[data-id="${ids.wait}"] .state-running`).waitFor();
    await page.click(`#tasks tr[data-id="${ids.wait}"]`);
    await page.click("#detail button.graph");
    const nodes = page.locator("#graph svg g.task");
    await nodes.nth(2).waitFor();
    assert.equal(await nodes.count(), 3);
    const classes = async (id: string) =>
      (await page.locator(`#graph g#task-${id}`).getAttribute("class"))?.split(" ").sort();
    assert.deepEqual(await classes(ids.scan), ["node", "state-succeeded", "task"]);
    assert.deepEqual(await classes(ids.wait), ["marked", "node", "state-running", "task"]);
    assert.deepEqual(await classes(ids.fit), ["node", "state-waiting", "task"]);
    assert.equal(await fillOf(page, ids.scan), "rgb(187, 247, 208)");
    assert.equal(await fillOf(page, ids.wait), "rgb(191, 219, 254)");
    assert.equal(await fillOf(page, ids.fit), "rgb(254, 249, 195)");
    // Two edges, laid out by Graphviz: scan → wait → fit.
    assert.equal(await page.locator("#graph svg g.edge").count(), 2);

    // A task that starts waiting on one on show joins the graph.
    const report = await submit(server, {
      service: "lab",
      type: "Sum",
      fields: { a: 0, b: 0 },
      after: [ids.fit],
    });
    await page.locator(`#graph g#task-${report}.state-waiting`).waitFor();
    await page.locator("#graph").scrollIntoViewIfNeeded();
    await page.screenshot({
      path: `${REPO_ROOT}/test/artifacts/dashboard-graph.png`,
      fullPage: true,
    });

    // Graphviz compiled its WebAssembly in its worker; the page itself may not compile any.
    assert.match(
      await page.evaluate(
        "WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))" +
          ".then(() => 'compiled', (error) => error.message)",
      ),
      /Content Security Policy/,
    );

    // Recoloured live: cancelling `wait` cancels what waits on it.
    await api(server, `/tasks/${ids.wait}/cancel`, { method: "POST" });
    for (const id of [ids.wait, ids.fit, report]) {
      await page.locator(`#graph g#task-${id}.state-cancelled`).waitFor();
      assert.equal(await fillOf(page, id), "rgb(233, 213, 255)");
    }
    assert.match(await page.locator(`#graph g#task-${ids.wait}`).textContent() ?? "", /cancelled/);

    // A node opens its task.
    await page.click(`#graph g#task-${ids.scan}`);
    await textBecomes(page, '#detail [data-fact="id"]', ids.scan);
    assert.equal(await page.locator("#detail h2").textContent(), "Sum on lab");
    assert.equal(
      await page.locator(`#detail [data-fact="dependents"] button.link`).textContent(),
      ids.wait.slice(-8),
    );
    await page.locator(`#graph g#task-${ids.scan}.marked`).waitFor();
  });
});

Deno.test("dashboard: a stuck service shows which task holds it, and is released", async () => {
  await withDashboard(LIVE_CONFIG, async ({ page, server }) => {
    const hang = await submit(server, { service: "rig", type: "Hang", timeoutMs: 200 });
    const ping = await submit(server, { service: "rig", type: "Ping" });
    const rig = page.locator('#services [data-service="rig"]');
    await page.locator('#services [data-service="rig"][data-state="stuck"]').waitFor();
    assert.equal(await rig.locator(".state").textContent(), "stuck");
    assert.equal(await rig.locator(".stuck button.link").textContent(), hang.slice(-8));
    await page.locator(`#tasks tr[data-id="${ping}"] .state-queued`).waitFor();
    // The queue view: the task holding the lane, then the one waiting, with its priority.
    await rig.locator("button.show-queue").click();
    await rig.locator(`.queue li[data-id="${ping}"]`, { hasText: "priority 0" }).waitFor();
    assert.deepEqual(
      await rig.locator(".queue li").evaluateAll((items) =>
        items.map((item) => (item as unknown as { dataset: { id: string } }).dataset.id)
      ),
      [hang, ping],
    );
    // The task that holds the lane ended (its timeout), and opens from the service.
    await rig.locator(".stuck button.link").click();
    await page.locator("#detail .error-line", { hasText: /^TimeoutError/ }).waitFor();

    await rig.locator("button.release").click();
    await page.locator('#services [data-service="rig"][data-state="running"]').waitFor();
    assert.equal(await rig.locator(".stuck").count(), 0);
    await page.locator(`#tasks tr[data-id="${ping}"] .state-succeeded`).waitFor();
    // Let the deaf handler return, so nothing is left running.
    await outcomeOf(
      server,
      await submit(server, { service: "live", type: "Open", fields: { gate: "hang" } }),
    );
  });
});

Deno.test("dashboard: a running task's progress and output grow live, then its record", async () => {
  await withDashboard(LIVE_CONFIG, async ({ page, server }) => {
    const open = async () =>
      await outcomeOf(
        server,
        await submit(server, { service: "live", type: "Open", fields: { gate: "steps" } }),
      );
    const id = await submit(server, { service: "live", type: "Steps", fields: { steps: 3 } });
    await page.locator(`#tasks tr[data-id="${id}"] .state-running`).waitFor();
    await page.click(`#tasks tr[data-id="${id}"]`);
    const stdout = "#detail .live-output pre.stdout";
    await textBecomes(page, "#detail .progress .progress-message", "step 1 of 3");
    assert.equal(await page.locator("#detail .progress .percent").textContent(), "33%");
    await textBecomes(page, stdout, "step 1\n");

    await open();
    await textBecomes(page, "#detail .progress .progress-message", "step 2 of 3");
    // Grown, not replaced: both lines, and the image displayed at step 2.
    await textBecomes(page, stdout, "step 1\nstep 2\n");
    await page.locator("#detail .live-output .outputs img").waitFor();
    assert.equal(await page.locator("#detail .progress .percent").textContent(), "67%");

    await open();
    // Step 3 cleared what was shown before it printed.
    await textBecomes(page, stdout, "step 3\n");
    assert.equal(await page.locator("#detail .live-output .outputs img").count(), 0);
    await textBecomes(page, "#detail .progress .percent", "100%");

    await open();
    await page.locator("#detail header .state-succeeded").waitFor();
    await textBecomes(page, "#detail .result", "3 steps");
    assert.equal(await page.locator("#detail .live-output").count(), 0);
    assert.equal(await page.locator("#detail .progress").count(), 0);
  });
});

Deno.test("dashboard: schedules are listed, paused, resumed and run, live", async () => {
  await withDashboard(LIVE_CONFIG, async ({ page, server }) => {
    const yearly = page.locator('#schedules [data-schedule="yearly"]');
    await yearly.waitFor();
    assert.match(await yearly.textContent() ?? "", /lab · cron 0 0 1 1 \* \(UTC\)/);
    assert.match(
      await page.locator('#schedules [data-schedule="weekly"]').textContent() ?? "",
      /every 7d/,
    );
    assert.notEqual(await yearly.locator('[data-fact="next"]').textContent(), "—");

    await yearly.locator("button.pause").click();
    await page.locator('#schedules [data-schedule="yearly"][data-state="paused"]').waitFor();
    assert.equal(await yearly.locator('[data-fact="next"]').textContent(), "—");
    const statuses = await read<ScheduleInfo[]>(server, "/schedules");
    assert.equal(statuses.find((status) => status.name === "yearly")?.state, "paused");

    // Resumed by another client: the page hears it from the event.
    await read(server, "/schedules/yearly/resume", "POST");
    await page.locator('#schedules [data-schedule="yearly"][data-state="scheduled"]').waitFor();

    await yearly.locator("button.run").click();
    await textBecomes(page, '#schedules [data-schedule="yearly"] [data-fact="runs"]', "1");
    assert.notEqual(await yearly.locator('[data-fact="last"]').textContent(), "—");
    const { records } = await read<{ records: Server.TaskRecordSummary[] }>(
      server,
      "/tasks?service=lab",
    );
    const run = records.find((record) => record.schedule === "yearly");
    assert.ok(run, "no task of the schedule");
    await page.click(`#tasks tr[data-id="${run.id}"]`);
    await textBecomes(page, '#detail [data-fact="schedule"]', "yearly");
  });
});

Deno.test("dashboard: submit options; links, re-run and delete from the detail; parent", async () => {
  await withDashboard(LIVE_CONFIG, async ({ page, server }) => {
    const first = await submit(server, { service: "lab", type: "Sum", fields: { a: 1, b: 1 } });
    await outcomeOf(server, first);

    await page.selectOption("#submit-service", "lab");
    await page.selectOption("#submit-type", "Sleep");
    await page.fill('#submit-fields [name="ms"]', "10");
    await page.click("#submit-options summary");
    await page.fill("#submit-priority", "1.5");
    await page.click("#submit-button");
    await page.locator("#submit-message.error", { hasText: /TaskValidationError.*priority/ })
      .waitFor();

    await page.fill("#submit-priority", "5");
    await page.fill("#submit-key", "dash-key");
    await page.fill("#submit-after", first);
    await page.fill("#submit-expires", "60000");
    await page.click("#submit-button");
    await page.locator("#submit-message.ok").waitFor();
    // The form opens what it submitted.
    await textBecomes(page, "#detail h2", "Sleep on lab");
    const second = await page.locator('#detail [data-fact="id"]').textContent() ?? "";
    assert.equal(await page.locator('#detail [data-fact="priority"]').textContent(), "5");
    assert.equal(await page.locator('#detail [data-fact="key"]').textContent(), "dash-key");
    assert.equal(
      await page.locator('#detail [data-fact="after"] button.link').textContent(),
      first.slice(-8),
    );
    await page.locator('#detail [data-fact="deadline"]').waitFor();
    await page.locator("#detail header .state-succeeded").waitFor();

    // Re-run: a new task that names the first.
    await page.click("#detail button.rerun");
    await page.locator('#detail [data-fact="re-run of"]').waitFor();
    const rerun = await page.locator('#detail [data-fact="id"]').textContent() ?? "";
    assert.notEqual(rerun, second);
    assert.equal((await read<Server.TaskRecord>(server, `/tasks/${rerun}`)).rerunOf, second);
    await page.locator("#detail header .state-succeeded").waitFor();

    // Links: back to what it re-ran, then to what that waited for.
    await page.click('#detail [data-fact="re-run of"] button.link');
    await textBecomes(page, '#detail [data-fact="id"]', second);
    await page.click('#detail [data-fact="after"] button.link');
    await textBecomes(page, '#detail [data-fact="id"]', first);

    // Delete: gone from the page and from the server.
    await page.click("#detail button.delete");
    await page.locator("#detail").waitFor({ state: "hidden" });
    await page.locator(`#tasks tr[data-id="${first}"]`).waitFor({ state: "detached" });
    assert.equal((await api(server, `/tasks/${first}`)).status, 404);

    // A task its handler queued links to that task, its parent.
    const spawn = await submit(server, { service: "live", type: "Spawn" });
    const spawned = await outcomeOf(server, spawn);
    assert.equal(spawned.status, "ok");
    const child = String(spawned.status === "ok" && spawned.result);
    await page.click(`#tasks tr[data-id="${child}"]`);
    await textBecomes(page, '#detail [data-fact="parent"]', spawn.slice(-8));
    await page.click('#detail [data-fact="parent"] button.link');
    await textBecomes(page, '#detail [data-fact="id"]', spawn);
  });
});

Deno.test("dashboard of a cluster: each service lists its replicas, where they run", async () => {
  await using nats = await NatsServer.start();
  const replicas = await Promise.all([
    startReplica({ config: "test/fixtures/cluster.config.ts", nats: nats.url }),
    startReplica({ config: "test/fixtures/cluster.config.ts", nats: nats.url }),
  ]);
  const gateway = await startReplica({
    config: "test/fixtures/gateway.config.ts",
    nats: nats.url,
    gateway: true,
  });
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(SHOWN_WITHIN_MS);
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    await page.goto(`${gateway.url}#token=${TEST_TOKEN}`);
    await page.locator("#connection", { hasText: "live" }).waitFor();
    // The registry may list the second replica a refresh later: the panel reads the services again
    // as tasks come and go, so a task brings the list up to date.
    const stamp = page.locator('[data-service="stamp"] details.replicas');
    for (
      let attempt = 0;
      (await stamp.locator("summary").textContent()) !== "2 replicas";
      attempt++
    ) {
      assert.ok(attempt < 100, "the dashboard lists both replicas of stamp");
      await fetch(new URL("/tasks", gateway.url), {
        method: "POST",
        headers: { authorization: `Bearer ${TEST_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ service: "stamp", type: "SerialStamp", fields: { label: "poke" } }),
      }).then((response) => response.body?.cancel());
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await stamp.locator("summary").click();
    const shown = await stamp.locator("li").evaluateAll((items) =>
      items.map((item) => ({ state: item.dataset.state, text: item.textContent ?? "" }))
    );
    assert.deepEqual(
      shown.map(({ text }) => Number(/pid (\d+)/.exec(text)?.[1])).sort(),
      replicas.map((replica) => replica.pid).sort(),
    );
    assert.ok(
      shown.every(({ state, text }) => state === "running" && / · \d+ running · since /.test(text)),
    );
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await stopAll([...replicas, gateway]);
  }
});
