/**
 * The peers group: BullMQ on Redis (`bench/bullmq_peer.ts`) and the raw NATS
 * JetStream floor (`bench/nats_floor.ts`), measured on their own so the
 * durable-store and cluster benches have figures from the same run to set
 * their own beside (they can also call `measureBullmq` / `startNatsFloor`).
 *
 * Run alone: `deno run --allow-all bench/peers.ts [--rounds N] [--quick]`
 *
 * @module
 */
import { benchBullmq } from "./bullmq_peer.ts";
import { type BenchOptions, type Row, runStandalone } from "./common.ts";
import { benchNatsFloor } from "./nats_floor.ts";

/**
 * BullMQ's rows, then the NATS floor's.
 *
 * @example
 * ```ts
 * import { benchPeers } from "./peers.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchPeers({ quick: true }));
 * ```
 */
export async function benchPeers(options: BenchOptions = {}): Promise<Row[]> {
  return [...await benchBullmq(options), ...await benchNatsFloor(options)];
}

if (import.meta.main) await runStandalone(benchPeers);
