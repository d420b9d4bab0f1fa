/**
 * Actor benchmarks: tell throughput and sequential ask round trips, Zest
 * beside nact (npm) doing the same work in the same process, and beside a
 * bare array-queue loop (the floor: no actor at all).
 *
 * Run alone: `deno run --allow-all bench/actors.ts [--rounds N] [--quick]`
 *
 * @module
 */
import nact from "nact";
import { ActorSystem } from "../src/actor/mod.ts";
import {
  type BenchOptions,
  compare,
  formatRate,
  perSecond,
  resolveOptions,
  type Row,
  runStandalone,
  tick,
} from "./common.ts";

/** Mailbox bound of the back-pressure variant: the sender yields whenever it is full. */
const BOUNDED_CAPACITY = 10_000;

type CounterMessage = number | "count";

/** A counter actor's behaviour: counts numbers, answers "count" with the total. */
function counter() {
  let count = 0;
  return {
    receive: (message: CounterMessage) => message === "count" ? count : void count++,
  };
}

// ---------------------------------------------------------------- tells

/** Zest: `n` tells into a mailbox that holds them all, then an ask to flush. */
async function zestTellBurst(n: number): Promise<number> {
  const system = new ActorSystem();
  const ref = system.spawn<CounterMessage>("counter", counter, { mailbox: { capacity: n + 1 } });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) ref.tell(1);
  const count = await ref.ask<number>("count", { timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  await system.shutdown();
  if (count !== n) throw new Error(`zest counter saw ${count} of ${n} tells`);
  return perSecond(n, ms);
}

/**
 * Zest with back-pressure: a mailbox of 10 000 with the default "reject"
 * policy; when `tell` refuses, the sender yields a macrotask and retries.
 */
async function zestTellBounded(n: number): Promise<number> {
  const system = new ActorSystem();
  const ref = system.spawn<CounterMessage>("counter", counter, {
    mailbox: { capacity: BOUNDED_CAPACITY, overflow: "reject" },
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    while (!ref.tell(1)) await tick();
  }
  while (ref.depth >= BOUNDED_CAPACITY) await tick();
  const count = await ref.ask<number>("count", { timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  await system.shutdown();
  if (count !== n) throw new Error(`zest counter saw ${count} of ${n} tells`);
  return perSecond(n, ms);
}

type NactCounterMessage = { type: "inc" } | { type: "count"; sender: nact.Ref<number> };

let nactSystem: nact.ActorSystemRef | undefined;
let nactActors = 0;

function nactCounter(): nact.Ref<NactCounterMessage> {
  nactSystem ??= nact.start();
  return nact.spawn(
    nactSystem,
    (count: number = 0, message: NactCounterMessage) => {
      if (message.type === "count") {
        nact.dispatch(message.sender, count);
        return count;
      }
      return count + 1;
    },
    `counter-${++nactActors}`,
  );
}

const INC: NactCounterMessage = { type: "inc" };

/** nact: `n` dispatches to a counting actor, then a query to flush. */
async function nactTell(n: number): Promise<number> {
  const ref = nactCounter();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) nact.dispatch(ref, INC);
  const count = await nact.query(
    ref,
    (sender: nact.Ref<number>): NactCounterMessage => ({ type: "count", sender }),
    60_000,
  );
  const ms = performance.now() - t0;
  nact.stop(ref);
  if (count !== n) throw new Error(`nact counter saw ${count} of ${n} dispatches`);
  return perSecond(n, ms);
}

/** Floor: push `n` items on a plain array, then count them in one later microtask. */
async function floorTellBurst(n: number): Promise<number> {
  const queue: number[] = [];
  let head = 0;
  let count = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) queue.push(1);
  await Promise.resolve().then(() => {
    while (head < queue.length) count += queue[head++];
  });
  const ms = performance.now() - t0;
  if (count !== n) throw new Error(`floor counted ${count} of ${n}`);
  return perSecond(n, ms);
}

/** Floor with the same bound as the Zest variant: fill 10 000, yield, drain, repeat. */
async function floorTellBounded(n: number): Promise<number> {
  const queue: number[] = [];
  let count = 0;
  const t0 = performance.now();
  for (let sent = 0; sent < n;) {
    const end = Math.min(n, sent + BOUNDED_CAPACITY);
    for (; sent < end; sent++) queue.push(1);
    await tick();
    for (let i = 0; i < queue.length; i++) count += queue[i];
    queue.length = 0;
  }
  const ms = performance.now() - t0;
  if (count !== n) throw new Error(`floor counted ${count} of ${n}`);
  return perSecond(n, ms);
}

// ---------------------------------------------------------------- asks

/** Zest: `n` asks, each awaited before the next. */
async function zestAsk(n: number): Promise<number> {
  const system = new ActorSystem();
  const ref = system.spawn<CounterMessage>("counter", counter);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await ref.ask("count", { timeoutMs: 10_000 });
  const ms = performance.now() - t0;
  await system.shutdown();
  return perSecond(n, ms);
}

/** nact: `n` queries (with a timeout, as nact requires), each awaited before the next. */
async function nactAsk(n: number): Promise<number> {
  const ref = nactCounter();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await nact.query(
      ref,
      (sender: nact.Ref<number>): NactCounterMessage => ({ type: "count", sender }),
      10_000,
    );
  }
  const ms = performance.now() - t0;
  nact.stop(ref);
  return perSecond(n, ms);
}

/**
 * Floor: the least an asynchronous ask can cost — a promise per request, an
 * array queue, one microtask drain — with no timeout, no actor, no supervision.
 */
async function floorAsk(n: number): Promise<number> {
  const queue: Array<(value: number) => void> = [];
  let scheduled = false;
  let count = 0;
  const drain = () => {
    scheduled = false;
    for (let i = 0; i < queue.length; i++) queue[i](count);
    queue.length = 0;
  };
  const ask = (): Promise<number> => {
    const { promise, resolve } = Promise.withResolvers<number>();
    queue.push(resolve);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(drain);
    }
    return promise;
  };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) count += await ask() === count ? 1 : 0;
  const ms = performance.now() - t0;
  if (count !== n) throw new Error(`floor answered ${count} of ${n}`);
  return perSecond(n, ms);
}

// ---------------------------------------------------------------- group

/**
 * Measure actor tell and ask throughput for Zest, nact and the floor.
 * Returns table rows; nothing is printed but progress on stderr.
 *
 * @example
 * ```ts
 * import { benchActors } from "./actors.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchActors({ rounds: 3 }));
 * ```
 */
export async function benchActors(options: BenchOptions = {}): Promise<Row[]> {
  const opts = resolveOptions(options);
  // One more warm-up round for Zest and the floor: their first rounds pay for
  // JIT compilation and for growing the heap; nact's rounds are long enough.
  const extraWarmup = opts.quick ? 0 : 1;
  const scale = opts.quick ? 0.1 : 1;
  const tells = Math.round(1_000_000 * scale);
  const nactTells = Math.round(200_000 * scale);
  const asks = Math.round(200_000 * scale);
  const nactAsks = Math.round(20_000 * scale);
  const fmt = formatRate;

  const burst = await compare(`tell burst (zest/floor ${tells}, nact ${nactTells})`, opts, {
    zest: { run: () => zestTellBurst(tells), extraWarmup },
    nact: { run: () => nactTell(nactTells) },
    floor: { run: () => floorTellBurst(tells), extraWarmup },
  });
  const bounded = await compare(`tell with back-pressure (${tells})`, opts, {
    zest: { run: () => zestTellBounded(tells), extraWarmup },
    floor: { run: () => floorTellBounded(tells), extraWarmup },
  });
  const ask = await compare(`ask (zest/floor ${asks}, nact ${nactAsks})`, opts, {
    zest: { run: () => zestAsk(asks), extraWarmup },
    nact: { run: () => nactAsk(nactAsks) },
    floor: { run: () => floorAsk(asks), extraWarmup },
  });

  if (nactSystem) nact.stop(nactSystem);
  nactSystem = undefined;

  return [
    {
      name: `tells/s, ${tells / 1e6}M burst into one actor (mailbox ≥ N), ask to flush`,
      zest: fmt(burst.zest),
      peer: `nact ${fmt(burst.nact)} · floor ${fmt(burst.floor)}`,
      target: "≥ 10M/s",
      met: burst.zest >= 10e6,
    },
    {
      name: `tells/s, back-pressure (mailbox ${
        BOUNDED_CAPACITY / 1000
      }k "reject", yield on refusal)`,
      zest: fmt(bounded.zest),
      peer: `nact n/a (unbounded) · floor ${fmt(bounded.floor)}`,
      target: "≥ 10M/s",
      met: bounded.zest >= 10e6,
    },
    {
      name: "ask round trips/s, sequential (await each)",
      zest: fmt(ask.zest),
      peer: `nact ${fmt(ask.nact)} · floor ${fmt(ask.floor)}`,
      target: "≥ 1M/s",
      met: ask.zest >= 1e6,
    },
  ];
}

if (import.meta.main) await runStandalone(benchActors);
