import assert from "node:assert/strict";
import { ActorStoppedError, ActorSystem, MailboxFullError } from "../src/actor/mod.ts";
import { RingQueue } from "../src/actor/queue.ts";
import { Deadlines } from "../src/actor/deadlines.ts";
import { setImmediate } from "node:timers";

Deno.test("ring queue keeps FIFO order across growth and wrap-around", () => {
  const queue = new RingQueue<number>();
  const expected: number[] = [];
  for (let i = 0; i < 100; i++) {
    queue.push(i);
    expected.push(i);
    if (i % 3 === 0) assert.equal(queue.shift(), expected.shift());
  }
  assert.equal(queue.length, expected.length);
  assert.deepEqual(queue.drain(), expected);
  assert.equal(queue.shift(), undefined);
});

Deno.test("ring queue: random access, search, and reuse after a burst drained", () => {
  const queue = new RingQueue<string>();
  for (let round = 0; round < 2; round++) {
    // A burst past 64k slots: emptied, the queue gives its array back and starts again.
    for (let i = 0; i < 70_000; i++) queue.push(`item ${i}`);
    assert.equal(queue.shift(), "item 0");
    assert.equal(queue.at(0), "item 1");
    assert.equal(queue.at(69_998), "item 69999");
    assert.equal(queue.at(69_999), undefined);
    assert.equal(queue.at(-1), undefined);
    assert.equal(queue.indexOf("item 10"), 9);
    assert.equal(queue.indexOf("item 0"), -1);
    let count = 0;
    while (queue.shift() !== undefined) count++;
    assert.equal(count, 69_999);
    assert.equal(queue.length, 0);
  }
});

Deno.test("an actor handles its messages one at a time, in order", async () => {
  const system = new ActorSystem();
  const seen: number[] = [];
  let active = 0;
  let maxActive = 0;
  const ref = system.spawn<number>("ordered", () => async (n) => {
    maxActive = Math.max(maxActive, ++active);
    await new Promise((r) => setTimeout(r, Math.abs(n) % 3));
    seen.push(n);
    active--;
  });
  for (let i = 0; i < 20; i++) assert.equal(ref.tell(i), true);
  await ref.ask(-1, { timeoutMs: 5_000 });
  assert.deepEqual(seen.slice(0, 20), [...Array(20).keys()]);
  assert.equal(maxActive, 1);
  await system.shutdown();
});

Deno.test("concurrency N lets up to N messages run at once, never more", async () => {
  const system = new ActorSystem();
  let active = 0;
  let maxActive = 0;
  // Each handler that starts hands the test the function that lets it finish.
  const arrivals = new RingQueue<PromiseWithResolvers<() => void>>();
  const arrival = (i: number) => {
    while (arrivals.length <= i) arrivals.push(Promise.withResolvers());
    return arrivals.at(i)!;
  };
  let started = 0;
  const ref = system.spawn<string>("wide", () => async () => {
    maxActive = Math.max(maxActive, ++active);
    const gate = Promise.withResolvers<void>();
    arrival(started++).resolve(gate.resolve);
    await gate.promise;
    active--;
  }, { concurrency: 3 });
  const asks = Array.from({ length: 7 }, () => ref.ask("go", { timeoutMs: 60_000 }));
  const releases = [];
  for (let i = 0; i < 3; i++) releases.push(await arrival(i).promise);
  assert.equal(active, 3);
  // Each one let go makes room for exactly one more.
  for (let i = 3; i < 7; i++) {
    releases.shift()!();
    releases.push(await arrival(i).promise);
    assert.equal(active, 3);
  }
  for (const release of releases) release();
  await Promise.all(asks);
  assert.equal(started, 7);
  assert.equal(maxActive, 3);
  await system.shutdown();
});

Deno.test("ask returns the handler's value, and rejects with its error", async () => {
  const system = new ActorSystem({ logCrash: () => {} });
  const ref = system.spawn<number>("half", () => (n) => {
    if (n % 2) throw new RangeError(`${n} is odd`);
    return n / 2;
  });
  assert.equal(await ref.ask(8, { timeoutMs: 1_000 }), 4);
  await assert.rejects(ref.ask(3, { timeoutMs: 1_000 }), RangeError);
  await system.shutdown();
});

Deno.test("ask times out, and the receiver sees its signal abort", async () => {
  const system = new ActorSystem();
  let receiverSignal: AbortSignal | undefined;
  const ref = system.spawn<string>("slow", () => (_msg, reply) => {
    receiverSignal = reply?.signal;
    return new Promise((resolve) => reply?.signal.addEventListener("abort", resolve));
  });
  await assert.rejects(ref.ask("hi", { timeoutMs: 30 }), {
    name: "AskTimeoutError",
    message: /30 ms/,
  });
  assert.equal(receiverSignal?.aborted, true);
  await system.shutdown();
});

Deno.test("ask honours the caller's AbortSignal", async () => {
  const system = new ActorSystem();
  const ref = system.spawn<string>("never", () => () => new Promise(() => {}), {
    stopGraceMs: 10,
  });
  const controller = new AbortController();
  const asked = ref.ask("x", { timeoutMs: 60_000, signal: controller.signal });
  controller.abort(new Error("caller gave up"));
  await assert.rejects(asked, /caller gave up/);
  await assert.rejects(
    ref.ask("x", { timeoutMs: 60_000, signal: controller.signal }),
    /caller gave up/,
  );
  await system.shutdown();
});

Deno.test("mailbox 'reject' refuses messages beyond capacity; depth is visible", async () => {
  const system = new ActorSystem();
  let release!: () => void;
  const blocked = new Promise<void>((r) => release = r);
  const inFlight = Promise.withResolvers<void>();
  const ref = system.spawn<number>("tight", () => () => {
    inFlight.resolve();
    return blocked;
  }, { mailbox: { capacity: 2, overflow: "reject" } });
  assert.equal(ref.tell(1), true);
  await inFlight.promise; // message 1 has left the mailbox
  assert.equal(ref.tell(2), true);
  assert.equal(ref.tell(3), true);
  assert.equal(ref.depth, 2);
  assert.equal(ref.tell(4), false);
  await assert.rejects(ref.ask(5, { timeoutMs: 1_000 }), MailboxFullError);
  release();
  await system.shutdown();
});

Deno.test("mailbox 'drop-oldest' evicts the oldest message to dead letters", async () => {
  const system = new ActorSystem();
  const seen: number[] = [];
  const dead: unknown[] = [];
  system.onDeadLetter((letter) => dead.push(letter.message));
  const ref = system.spawn<number>("lossy", () => (n) => void seen.push(n), {
    mailbox: { capacity: 2, overflow: "drop-oldest" },
  });
  ref.tell(1);
  ref.tell(2);
  ref.tell(3); // all sent before the actor runs: 1 is evicted
  await ref.ask(0, { timeoutMs: 1_000 }).catch(() => {});
  assert.deepEqual(dead, [1, 2]); // 1 evicted by 3, 2 by the ask
  assert.deepEqual(seen, [3, 0]);
  await system.shutdown();
});

Deno.test("system messages go before queued user messages", async () => {
  const system = new ActorSystem();
  const seen: number[] = [];
  const ref = system.spawn<number>("stoppable", () => (n) => void seen.push(n));
  for (let i = 0; i < 5; i++) ref.tell(i);
  const stopped = system.stop(ref); // queued after the user messages, handled first
  await stopped;
  assert.deepEqual(seen, []);
  assert.equal(system.deadLetterCount, 5);
  assert.equal(ref.tell(9), false);
  await assert.rejects(ref.ask(9, { timeoutMs: 1_000 }), ActorStoppedError);
});

Deno.test("a long burst yields to the event loop: a macrotask queued before it runs during it", async () => {
  const system = new ActorSystem();
  let handledWhenMacrotaskRan: number | undefined;
  let handled = 0;
  const burst = 100_000;
  const ref = system.spawn<number>("busy", () => () => void handled++, {
    mailbox: { capacity: 2 * burst },
  });
  // An immediate (not a timer: no clock involved) queued before the burst runs at the
  // dispatcher's first yield; without one, only after the whole burst.
  setImmediate(() => handledWhenMacrotaskRan = handled);
  for (let i = 0; i < burst; i++) ref.tell(i);
  await ref.ask(0, { timeoutMs: 60_000 });
  assert.ok(handledWhenMacrotaskRan !== undefined, "the macrotask ran");
  assert.ok(handledWhenMacrotaskRan < burst, `it ran after ${handledWhenMacrotaskRan} messages`);
  await system.shutdown();
});

Deno.test("a crashing actor is restarted with fresh state, and every crash is logged", async () => {
  const crashes: string[] = [];
  const system = new ActorSystem({
    logCrash: (actor, _e, action) => crashes.push(`${actor}: ${action}`),
  });
  let incarnations = 0;
  const ref = system.spawn<string>("phoenix", () => {
    incarnations++;
    let count = 0;
    return {
      receive: (msg) => {
        if (msg === "crash") throw new Error("boom");
        return ++count;
      },
    };
  }, { supervision: { backoffMs: 5, maxRestarts: 3 } });
  assert.equal(await ref.ask("count", { timeoutMs: 1_000 }), 1);
  assert.equal(await ref.ask("count", { timeoutMs: 1_000 }), 2);
  ref.tell("crash");
  assert.equal(await ref.ask("count", { timeoutMs: 1_000 }), 1); // state was reset
  assert.equal(incarnations, 2);
  assert.equal(crashes.length, 1);
  assert.match(crashes[0], /phoenix: restarting in 5 ms/);
  await system.shutdown();
});

Deno.test("turnEnded runs once after each turn's messages; a throw there is a crash", async () => {
  const crashes: string[] = [];
  const system = new ActorSystem({
    logCrash: (actor, _e, action) => crashes.push(`${actor}: ${action}`),
  });
  const events: string[] = [];
  const ref = system.spawn<string>("batcher", () => ({
    receive: (msg) => {
      events.push(msg);
      return msg;
    },
    turnEnded: () => {
      events.push("end");
      if (events.includes("fail") && !events.includes("failed")) {
        events.push("failed");
        throw new Error("the batch could not be committed");
      }
    },
  }), { supervision: { backoffMs: 5, maxRestarts: 3 } });
  // Told in one go: one turn handles all three, then its end runs once.
  ref.tell("a");
  ref.tell("b");
  ref.tell("c");
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(events, ["a", "b", "c", "end"]);
  ref.tell("fail");
  assert.equal(await ref.ask("after", { timeoutMs: 1_000 }), "after");
  assert.equal(crashes.length, 1);
  assert.match(crashes[0], /batcher: restarting in 5 ms/);
  await system.shutdown();
});

Deno.test("supervision stops an actor that crashes more than maxRestarts times", async () => {
  const crashes: string[] = [];
  const system = new ActorSystem({ logCrash: (_a, _e, action) => crashes.push(action) });
  const ref = system.spawn<string>("fragile", () => () => {
    throw new Error("always");
  }, { supervision: { backoffMs: 1, maxRestarts: 2, withinMs: 60_000 } });
  let stopReason: Error | undefined;
  const stopped = new Promise<void>((resolve) =>
    system.watch(ref, (reason) => {
      stopReason = reason;
      resolve();
    })
  );
  for (let i = 0; i < 3; i++) {
    await assert.rejects(ref.ask("x", { timeoutMs: 1_000 }), /always/);
  }
  await stopped;
  assert.equal(ref.isAlive, false);
  assert.match(String(stopReason), /always/);
  assert.deepEqual(crashes.map((c) => c.split(" ")[0]), ["restarting", "restarting", "stopping:"]);
  await assert.rejects(ref.ask("x", { timeoutMs: 1_000 }), ActorStoppedError);
  await system.shutdown();
});

Deno.test("a failing started() is a crash too, and the actor recovers", async () => {
  const system = new ActorSystem({ logCrash: () => {} });
  let attempts = 0;
  const ref = system.spawn<string>("flaky-start", () => ({
    started() {
      if (++attempts < 2) throw new Error("not yet");
    },
    receive: () => attempts,
  }), { supervision: { backoffMs: 1 } });
  assert.equal(await ref.ask("?", { timeoutMs: 1_000 }), 2);
  await system.shutdown();
});

Deno.test("spawn names are unique and lookup finds live actors only", async () => {
  const system = new ActorSystem();
  system.spawn("one", () => () => 1);
  assert.throws(() => system.spawn("one", () => () => 1), /already exists/);
  assert.equal(await system.lookup("one")?.ask("x", { timeoutMs: 1_000 }), 1);
  await system.stop("one");
  assert.equal(system.lookup("one"), undefined);
  await system.shutdown();
});

Deno.test("deadlines fire due entries only, in order of their deadlines", async () => {
  const wheel = new Deadlines();
  const fired: string[] = [];
  const last = Promise.withResolvers<void>();
  wheel.schedule(30, () => {
    fired.push("b");
    last.resolve();
  });
  const cancelled = wheel.schedule(10, () => fired.push("never"));
  wheel.schedule(10, () => fired.push("a"));
  cancelled.cancel();
  cancelled.cancel(); // twice is harmless
  // The latest deadline firing means every earlier one has had its turn.
  await last.promise;
  assert.deepEqual(fired, ["a", "b"]);
  // Closed, nothing pending fires.
  wheel.schedule(1, () => fired.push("after close"));
  wheel.close();
  assert.deepEqual(fired, ["a", "b"]);
});
