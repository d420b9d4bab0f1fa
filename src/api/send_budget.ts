/**
 * How much the server lets its WebSocket connections hold unsent: a bound
 * per connection and one for all of them together. Deno queues whatever
 * `send` is given for as long as the peer does not read, and frees it only
 * when the connection ends — a connection closed for reading too slowly
 * keeps its queue until its peer reads or leaves. So the budget counts such
 * a connection with what it held until its `close` event, and the only
 * remedy it has is to stop adding: a connection over its bound, or one that
 * holds anything unsent while the server is over its total, gets nothing
 * more and is closed.
 *
 * @module
 */

/**
 * Most bytes one connection may hold unsent; beyond, it is closed (1013).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_UNSENT_BYTES_PER_CONNECTION } from "./send_budget.ts";
 * assert.equal(MAX_UNSENT_BYTES_PER_CONNECTION, 16 * 1024 * 1024);
 * ```
 */
export const MAX_UNSENT_BYTES_PER_CONNECTION = 16 * 1024 * 1024;

/**
 * Most bytes all connections together may hold unsent; beyond, any
 * connection that still holds unsent data is closed (1013).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_UNSENT_BYTES } from "./send_budget.ts";
 * assert.equal(MAX_UNSENT_BYTES, 256 * 1024 * 1024);
 * ```
 */
export const MAX_UNSENT_BYTES = 256 * 1024 * 1024;

/**
 * What the budget reads of a connection: a `WebSocket` fits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Outbox } from "./send_budget.ts";
 * const idle: Outbox = { readyState: WebSocket.OPEN, bufferedAmount: 0 };
 * assert.equal(idle.bufferedAmount, 0);
 * ```
 */
export interface Outbox {
  /** `WebSocket.OPEN` while it may send; Deno reports no `bufferedAmount` after that. */
  readonly readyState: number;
  /** Bytes given to `send` and not yet written to the network. */
  readonly bufferedAmount: number;
}

/**
 * The unsent bytes of a server's connections, and whether one may be sent more.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SendBudget } from "./send_budget.ts";
 * const budget = new SendBudget({ perConnection: 100, total: 150 });
 * const a = { readyState: WebSocket.OPEN, bufferedAmount: 90 };
 * const b = { readyState: WebSocket.OPEN, bufferedAmount: 0 };
 * assert.equal(budget.refusal(a), undefined);
 * assert.equal(budget.refusal(b), undefined);
 * b.bufferedAmount = 80; // b falls behind too: 170 in all
 * assert.match(budget.refusal(b) ?? "", /the server holds too much unsent data/);
 * assert.equal(budget.unsent, 170);
 * budget.release(b); // b's connection ended
 * assert.equal(budget.refusal(a), undefined);
 * a.bufferedAmount = 101;
 * assert.match(budget.refusal(a) ?? "", /over 100 bytes unsent/);
 * ```
 */
export class SendBudget {
  /** Most bytes one connection may hold unsent. */
  readonly perConnection: number;
  /** Most bytes all connections together may hold unsent. */
  readonly total: number;
  /** What each connection held when last looked at. */
  readonly #held = new Map<Outbox, number>();
  #unsent = 0;

  /**
   * A budget of `perConnection` and `total` bytes (defaults as the constants
   * above); a bad one is a `RangeError` naming it as `serve`'s `maxUnsentBytes`.
   */
  constructor(
    { perConnection = MAX_UNSENT_BYTES_PER_CONNECTION, total = MAX_UNSENT_BYTES }: {
      perConnection?: number;
      total?: number;
    } = {},
  ) {
    for (const [name, value] of [["perConnection", perConnection], ["total", total]] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(
          `maxUnsentBytes.${name}: expected a whole number of bytes above 0, got ${value}`,
        );
      }
    }
    this.perConnection = perConnection;
    this.total = total;
  }

  /** Bytes all connections hold unsent, as last seen (closed ones until they are gone). */
  get unsent(): number {
    return this.#unsent;
  }

  /**
   * Why `outbox` may be sent nothing more (it is to be closed), or
   * `undefined` if it may: it holds more than `perConnection`, or holds
   * anything while all together hold more than `total`.
   */
  refusal(outbox: Outbox): string | undefined {
    const unsent = this.#look(outbox);
    if (unsent > this.perConnection) {
      return `reading too slowly: over ${this.perConnection} bytes unsent`;
    }
    // Others' figures may be stale (they drained since): look again before refusing.
    if (unsent > 0 && this.#unsent > this.total && this.#lookAtAll() > this.total) {
      return `reading too slowly: the server holds too much unsent data (over ${this.total} bytes)`;
    }
    return undefined;
  }

  /** After a `send` to `outbox`: count what it holds now. */
  sent(outbox: Outbox): void {
    this.#look(outbox);
  }

  /** `outbox`'s connection has ended: what it held is freed. */
  release(outbox: Outbox): void {
    this.#unsent -= this.#held.get(outbox) ?? 0;
    this.#held.delete(outbox);
  }

  /** What `outbox` holds, counted. A closing one keeps its last figure: Deno still holds it. */
  #look(outbox: Outbox): number {
    const before = this.#held.get(outbox) ?? 0;
    if (outbox.readyState !== WebSocket.OPEN) return before;
    const now = outbox.bufferedAmount;
    this.#unsent += now - before;
    this.#held.set(outbox, now);
    return now;
  }

  #lookAtAll(): number {
    for (const outbox of this.#held.keys()) this.#look(outbox);
    return this.#unsent;
  }
}
