// @ts-check
/**
 * The page's link to the server: the token, and one WebSocket with
 * request/reply correlation, pushed events and reconnects.
 *
 * The token comes from the URL fragment (`#token=…`), which never reaches the
 * server or its logs; it is kept in `sessionStorage` (this tab only) and sent
 * as the WebSocket subprotocol `token.<token>` (and as a bearer token on the
 * one HTTP call the socket has no message for: a re-run).
 *
 * @module
 */

/**
 * @import {
 *   Ref, ReplyTo, ServerMessage, SocketRequest, TaskEvent, TaskOutcome, TaskSubmission,
 * } from "./types.d.ts"
 */

const TOKEN_KEY = "zest.token";
const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 5_000;

/**
 * The token from the URL's `#token=…` (then taken off the address bar) or,
 * failing that, the one this tab kept; `null` if there is none.
 *
 * @example
 * ```js
 * import { takeToken } from "./connection.js";
 * const token = takeToken(); // and location.hash is now ""
 * ```
 *
 * @returns {string | null}
 */
export function takeToken() {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromUrl) {
    keepToken(fromUrl);
    // Off the address bar: no shoulder-surfing, no copy-paste of the secret.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/**
 * Keep `token` for this tab (the login form's, used after a reload).
 *
 * @example
 * ```js
 * import { keepToken } from "./connection.js";
 * keepToken("pasted-token");
 * location.reload();
 * ```
 *
 * @param {string} token
 */
export function keepToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/**
 * What a connection tells the page.
 *
 * @typedef {object} ConnectionHandlers
 * @property {() => void} opened The socket is open (again): requests may be sent.
 * @property {(neverOpened: boolean) => void} closed The socket closed; it reopens by itself.
 *   `neverOpened`: it did not open at all, most likely a wrong token (a browser hides the 401).
 * @property {(event: TaskEvent) => void} event An event, once subscribed.
 */

/**
 * A request waiting for its last reply.
 *
 * @typedef {object} Pending
 * @property {(message: FinalReply) => void} resolve
 * @property {(error: Error) => void} reject
 * @property {(taskId: string) => void} [accepted] A submission's first reply.
 */

/** @typedef {Exclude<ServerMessage, { type: "event" | "error" | "submit" }>} FinalReply */

/**
 * A WebSocket to the server the page came from, reopened with a growing
 * delay (up to 5 s) whenever it closes.
 *
 * @example
 * ```js
 * import { Connection } from "./connection.js";
 * const connection = new Connection("token", {
 *   opened: () => connection.request({ type: "services" }).then(({ services }) => services),
 *   closed: () => {},
 *   event: (event) => console.log(event.kind),
 * });
 * connection.open();
 * ```
 */
export class Connection {
  #token;
  #handlers;
  /** @type {WebSocket | undefined} */
  #socket;
  #nextRef = 1;
  /** @type {Map<Ref, Pending>} */
  #pending = new Map();
  #retryMs = FIRST_RETRY_MS;

  /**
   * @param {string} token
   * @param {ConnectionHandlers} handlers
   */
  constructor(token, handlers) {
    this.#token = token;
    this.#handlers = handlers;
  }

  /** Open the socket (and keep reopening it). */
  open() {
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/`;
    const socket = new WebSocket(url, ["zest.v1", `token.${this.#token}`]);
    this.#socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      this.#retryMs = FIRST_RETRY_MS;
      this.#handlers.opened();
    });
    socket.addEventListener("message", (event) => this.#receive(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      for (const { reject } of this.#pending.values()) reject(new Error("connection lost"));
      this.#pending.clear();
      this.#handlers.closed(!opened);
      setTimeout(() => this.open(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, LONGEST_RETRY_MS);
    });
  }

  /**
   * Send `request`; resolves with its reply, rejects with the server's error.
   *
   * @template {SocketRequest} R
   * @param {R} request
   * @returns {Promise<ReplyTo<R>>}
   */
  request(request) {
    return new Promise((resolve, reject) => {
      this.#send(request, {
        // The server answers each request with a reply of the request's type.
        resolve: (message) => resolve(/** @type {ReplyTo<R>} */ (/** @type {unknown} */ (message))),
        reject,
      });
    });
  }

  /**
   * Submit a task: `accepted` gets its id as soon as the server has queued it;
   * resolves with its outcome once it ends. A refusal (unknown type, invalid
   * fields, queue full, …) rejects with an error that starts with its kind,
   * e.g. `TaskValidationError: …`.
   *
   * @param {TaskSubmission} task
   * @param {(taskId: string) => void} accepted
   * @returns {Promise<TaskOutcome>}
   */
  submit(task, accepted) {
    return new Promise((resolve, reject) => {
      this.#send({ type: "submit", task }, {
        resolve: (message) => {
          if (message.type === "outcome" && message.outcome) resolve(message.outcome);
          else reject(new Error(`task ${task.type}: the server sent no outcome`));
        },
        reject,
        accepted,
      });
    });
  }

  /**
   * Submit task `taskId` again (`POST /tasks/:id/rerun`): the same service,
   * type, fields and attributes, and a record that names it in `rerunOf`.
   * Resolves with the new task's id; rejects with the server's refusal, e.g.
   * `UnknownTaskError: …`.
   *
   * @param {string} taskId
   * @returns {Promise<string>}
   */
  async rerun(taskId) {
    const response = await fetch(`/tasks/${encodeURIComponent(taskId)}/rerun`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.#token}` },
    });
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) {
      throw new Error(body.name ? `${body.name}: ${body.error}` : String(body.error));
    }
    return String(body.taskId);
  }

  /**
   * @param {SocketRequest | { type: "submit", task: TaskSubmission }} message
   * @param {Pending} pending
   */
  #send(message, pending) {
    if (this.#socket?.readyState !== WebSocket.OPEN) {
      pending.reject(new Error("not connected"));
      return;
    }
    const ref = this.#nextRef++;
    this.#pending.set(ref, pending);
    this.#socket.send(JSON.stringify({ ...message, ref }));
  }

  /** @param {ServerMessage} message */
  #receive(message) {
    if (message.type === "event") return this.#handlers.event(message.event);
    // An error about a message without a readable `ref` answers nothing the page waits for.
    if (message.ref === undefined) return;
    const pending = this.#pending.get(message.ref);
    if (!pending) return;
    if (message.type === "submit") return pending.accepted?.(message.taskId);
    this.#pending.delete(message.ref);
    if (message.type === "error") {
      pending.reject(new Error(message.name ? `${message.name}: ${message.error}` : message.error));
    } else pending.resolve(message);
  }
}
