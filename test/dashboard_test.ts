/**
 * The dashboard in a real headless Chromium, against the real server: it
 * loads, shows the services, a task submitted through the form appears and
 * completes, a kernel's image output renders, an HTML result renders in a
 * sandboxed frame where its script does not run. Leaves a screenshot in
 * test/artifacts/dashboard.png. Also: every file of the page is served, and
 * what the server sends fits the page's own description of the wire.
 */
import assert from "node:assert/strict";
import { extname } from "node:path";
import { chromium } from "playwright-core";
import { dashboardAsset } from "../src/api/assets.ts";
import type * as Page from "../src/api/dashboard/types.d.ts";
import type * as Server from "../src/mod.ts";
import type * as Protocol from "../src/transport/websocket/protocol.ts";
import { api, REPO_ROOT, startServer } from "./helpers/server.ts";

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
    assert.match(response.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.equal(await response.text(), await Deno.readTextFile(new URL(name, DASHBOARD)));
    served.push(name);
  }
  assert.ok(served.includes("main.js") && served.includes("style.css"));
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
