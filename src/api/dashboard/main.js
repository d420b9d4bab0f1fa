// @ts-check
/**
 * The dashboard page: takes the token (or asks for it), connects, and wires
 * the server's replies and events to the views. Each view is its own module;
 * this one only says which event goes where.
 *
 * @module
 */

import { Connection, keepToken, takeToken } from "./connection.js";
import { find } from "./dom.js";
import { hasEnded } from "./format.js";
import { GraphView } from "./graph_view.js";
import { TaskHistory } from "./history.js";
import { LiveOutputs } from "./live_output.js";
import { SchedulesPanel } from "./schedules.js";
import { ServicesPanel } from "./services.js";
import { StorePanel } from "./store.js";
import { SubmitForm } from "./submit_form.js";
import { TaskDetail } from "./task_detail.js";
import { MAX_ROWS, TaskTable } from "./task_table.js";

/** @import { TaskSummary } from "./types.d.ts" */

/** How often the durations of running tasks tick. */
const DURATION_TICK_MS = 500;
/**
 * How often services are read even when no task event asked for it: queue
 * depths and kernel status stay true if an event was missed.
 */
const SERVICES_POLL_MS = 3_000;
/** How often the store's size is read: it grows with writes no event announces. */
const STORE_POLL_MS = 10_000;

const status = find(document, "#connection", HTMLElement);
const login = find(document, "#login", HTMLFormElement);
const app = find(document, "#app", HTMLElement);

login.addEventListener("submit", (event) => {
  event.preventDefault();
  keepToken(find(login, "#login-token", HTMLInputElement).value.trim());
  location.reload();
});

const token = takeToken();
if (token) start(token);
else {
  app.hidden = true;
  login.hidden = false;
  showStatus("no token", "down");
}

/**
 * @param {string} text
 * @param {"connecting" | "live" | "down"} state
 */
function showStatus(text, state) {
  status.textContent = text;
  status.dataset.state = state;
}

/** @param {string} token */
function start(token) {
  login.hidden = true;
  app.hidden = false;
  const connection = new Connection(token, {
    opened: () => {
      showStatus("live", "live");
      load().catch((error) => showStatus(error.message, "down"));
    },
    closed: (neverOpened) => {
      if (neverOpened) {
        showStatus("cannot connect: wrong token or server down", "down");
        login.hidden = false;
      } else showStatus("reconnecting…", "connecting");
    },
    event: (event) => {
      switch (event.kind) {
        case "task":
          taskChanged(event.record);
          // Queue depths and the count of records moved with it.
          services.refreshSoon();
          store.refreshSoon();
          return;
        case "service":
          // A kernel's status changed, or a lane got stuck: no task event would have said so.
          services.update(event.service);
          return;
        case "log":
          detail.logAdded(event.id, event.entry);
          return;
        case "progress":
          detail.progressChanged(event.id, event.progress);
          return;
        case "output":
          outputs.add(event.id, event.output);
          detail.outputAdded(event.id, event.output);
          return;
        case "schedule":
          schedules.update(event.schedule);
          return;
        case "removed":
          table.remove(event.id);
          history.removed(event.id);
          detail.removed(event.id);
          outputs.forget(event.id);
          store.refreshSoon();
          return;
      }
    },
  });
  const outputs = new LiveOutputs();
  const submitForm = new SubmitForm(find(document, "#submit-form", HTMLFormElement), connection, {
    accepted: show,
  });
  const services = new ServicesPanel(find(document, "#services", HTMLUListElement), connection, {
    changed: (list) => {
      submitForm.showServices(list);
      history.showServices(list);
    },
    chosen: show,
  });
  const store = new StorePanel(find(document, "#store", HTMLElement), connection);
  const schedules = new SchedulesPanel({
    list: find(document, "#schedules", HTMLUListElement),
    note: find(document, "#schedules-note", HTMLElement),
  }, connection);
  const table = new TaskTable({
    body: find(document, "#tasks", HTMLTableSectionElement),
    emptyNote: find(document, "#no-tasks", HTMLElement),
    count: find(document, "#counts", HTMLElement),
  }, { chosen: show });
  const history = new TaskHistory(
    {
      form: find(document, "#history-filter", HTMLFormElement),
      body: find(document, "#history", HTMLTableSectionElement),
      older: find(document, "#history-older", HTMLButtonElement),
      status: find(document, "#history-status", HTMLElement),
    },
    connection,
    { chosen: show },
  );
  const graph = new GraphView(find(document, "#graph", HTMLElement), connection, {
    chosen: show,
  });
  const detail = new TaskDetail(find(document, "#detail", HTMLElement), connection, outputs, {
    closed: () => {
      table.highlight(undefined);
      graph.mark(undefined);
    },
    chosen: show,
    graph: (id) => graph.open(id),
  });

  /** @param {string} id */
  function show(id) {
    table.highlight(id);
    graph.mark(id);
    detail.open(id, table.summaryOf(id) ?? history.summaryOf(id));
  }

  /** @param {TaskSummary} summary */
  function taskChanged(summary) {
    // An ended task's record holds all it printed and displayed.
    if (hasEnded(summary.state)) outputs.forget(summary.id);
    table.upsert(summary);
    history.taskChanged(summary);
    detail.taskChanged(summary);
    graph.taskChanged(summary);
  }

  /** Everything, on each (re)connection: services, the latest tasks, and their events. */
  async function load() {
    const [{ services: list }, { records }] = await Promise.all([
      connection.request({ type: "services" }),
      connection.request({ type: "list", query: { limit: MAX_ROWS } }),
      connection.request({ type: "subscribe" }),
    ]);
    services.showAll(list);
    // About oldest first: each new row then goes in at the top, found at once.
    for (const record of records.reverse()) taskChanged(record);
    await Promise.all([store.refresh(), schedules.refresh(), history.search(), detail.reload()]);
  }

  setInterval(() => {
    table.tickDurations();
    detail.tickDuration();
  }, DURATION_TICK_MS);
  setInterval(() => services.refreshSoon(), SERVICES_POLL_MS);
  setInterval(() => store.refresh(), STORE_POLL_MS);
  connection.open();
}
