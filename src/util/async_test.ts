import assert from "node:assert/strict";
import { abortable, delay, onAbort, SerialQueue } from "./async.ts";

Deno.test("onAbort calls the listener once, with the signal's reason", () => {
  const controller = new AbortController();
  const reasons: unknown[] = [];
  onAbort(controller.signal, (reason) => reasons.push(reason));
  controller.abort("first");
  controller.abort("second");
  assert.deepEqual(reasons, ["first"]);
});

Deno.test("onAbort: the returned function removes the listener, and may be called twice", () => {
  const controller = new AbortController();
  let called = false;
  const stop = onAbort(controller.signal, () => called = true);
  stop();
  stop();
  controller.abort();
  assert.equal(called, false);
});

Deno.test("onAbort on an aborted signal calls in a microtask, not during the call", async () => {
  const reasons: unknown[] = [];
  onAbort(AbortSignal.abort("gone"), (reason) => reasons.push(reason));
  assert.deepEqual(reasons, [], "not during the call");
  await Promise.resolve();
  assert.deepEqual(reasons, ["gone"]);
});

Deno.test("onAbort on an aborted signal: removing it before the microtask cancels the call", async () => {
  let called = false;
  const stop = onAbort(AbortSignal.abort(), () => called = true);
  stop();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(called, false);
});

Deno.test("onAbort without a signal never calls", async () => {
  let called = false;
  const stop = onAbort(undefined, () => called = true);
  await Promise.resolve();
  stop();
  assert.equal(called, false);
});

Deno.test("delay resolves true once the time has elapsed", async () => {
  assert.equal(await delay(1), true);
  assert.equal(await delay(0, new AbortController().signal), true);
});

/** Record the timers set and cleared while `fn` runs. */
async function watchTimers(fn: () => Promise<void>): Promise<{ set: number; pending: number }> {
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  type Timer = ReturnType<typeof setTimeout>;
  const live = new Set<Timer>();
  let set = 0;
  globalThis.setTimeout = ((callback: () => void, ms?: number) => {
    set++;
    const id = realSet(() => {
      live.delete(id);
      callback();
    }, ms);
    live.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id?: Timer) => {
    if (id !== undefined) live.delete(id);
    realClear(id);
  }) as typeof clearTimeout;
  try {
    await fn();
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  for (const id of live) realClear(id);
  return { set, pending: live.size };
}

Deno.test("delay resolves false at once when its signal aborts, and clears its timer", async () => {
  const timers = await watchTimers(async () => {
    const controller = new AbortController();
    const elapsed = delay(3_600_000, controller.signal);
    controller.abort();
    assert.equal(await elapsed, false);
  });
  assert.deepEqual(timers, { set: 1, pending: 0 });
});

Deno.test("delay with an aborted signal resolves false and sets no timer", async () => {
  const timers = await watchTimers(async () => {
    assert.equal(await delay(3_600_000, AbortSignal.abort()), false);
  });
  assert.deepEqual(timers, { set: 0, pending: 0 });
});

Deno.test("delay stops listening once elapsed: a later abort changes nothing", async () => {
  const controller = new AbortController();
  assert.equal(await delay(1, controller.signal), true);
  controller.abort();
});

Deno.test("abortable settles as the promise does while the signal holds", async () => {
  const signal = new AbortController().signal;
  assert.equal(await abortable(Promise.resolve("value"), signal), "value");
  await assert.rejects(abortable(Promise.reject(new RangeError("bad")), signal), RangeError);
  const promise = Promise.resolve(1);
  assert.equal(abortable(promise), promise, "no signal: the promise itself");
});

Deno.test("abortable rejects with the reason as soon as the signal aborts", async () => {
  const controller = new AbortController();
  const work = Promise.withResolvers<string>();
  const waiting = abortable(work.promise, controller.signal);
  controller.abort(new Error("caller gave up"));
  await assert.rejects(waiting, /caller gave up/);
  // The work's own failure afterwards is no unhandled rejection.
  work.reject(new Error("too late"));
  await delay(0);
});

Deno.test("abortable with an aborted signal rejects, and handles the promise's rejection", async () => {
  const work = Promise.withResolvers<string>();
  await assert.rejects(abortable(work.promise, AbortSignal.abort(new Error("already"))), /already/);
  work.reject(new Error("too late"));
  await delay(0);
});

Deno.test("SerialQueue starts a job only once the one before it has settled", async () => {
  const queue = new SerialQueue();
  const gate = Promise.withResolvers<void>();
  const events: string[] = [];
  const first = queue.run(async () => {
    events.push("first started");
    await gate.promise;
    events.push("first done");
    return 1;
  });
  const second = queue.run(() => {
    events.push("second started");
    return Promise.resolve(2);
  });
  await delay(0);
  assert.deepEqual(events, ["first started"]);
  gate.resolve();
  assert.deepEqual(await Promise.all([first, second]), [1, 2]);
  assert.deepEqual(events, ["first started", "first done", "second started"]);
});

Deno.test("SerialQueue: a failing job rejects its own promise and the queue goes on", async () => {
  const queue = new SerialQueue();
  const failing = queue.run(() => Promise.reject(new TypeError("job failed")));
  const next = queue.run(() => Promise.resolve("next"));
  await assert.rejects(failing, TypeError);
  assert.equal(await next, "next");
});

Deno.test("SerialQueue drops a waiting job whose signal aborts, at once", async () => {
  const queue = new SerialQueue();
  const gate = Promise.withResolvers<void>();
  const running = queue.run(() => gate.promise);
  const controller = new AbortController();
  let ran = false;
  const waiting = queue.run(() => Promise.resolve(ran = true), controller.signal);
  controller.abort(new Error("not needed"));
  // Rejected while the first job still runs.
  await assert.rejects(waiting, /not needed/);
  gate.resolve();
  await running;
  assert.equal(await queue.run(() => Promise.resolve("after")), "after");
  assert.equal(ran, false);
});

Deno.test("SerialQueue: a job already aborted is refused; a started job handles its signal", async () => {
  const queue = new SerialQueue();
  let ran = false;
  await assert.rejects(
    queue.run(() => Promise.resolve(ran = true), AbortSignal.abort(new Error("no"))),
    /no/,
  );
  assert.equal(ran, false);
  const controller = new AbortController();
  const result = await queue.run(() => {
    controller.abort(new Error("too late to drop"));
    return Promise.resolve("finished anyway");
  }, controller.signal);
  assert.equal(result, "finished anyway");
});
