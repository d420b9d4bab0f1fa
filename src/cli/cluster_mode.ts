/**
 * `deno task start` in cluster mode: the cluster options from `--nats URL`
 * and the config's `cluster`, credentials from the config or the environment
 * (never the command line), and the banner's lines.
 *
 * @module
 */
import {
  checkClusterOptions,
  type ClusterOptions,
  NATS_ENV,
  natsCredentialsFromEnv,
} from "../transport/nats/options.ts";

/**
 * The cluster to join, if any: the config's `cluster`, its servers replaced
 * by `--nats URL` when given; credentials from the config, else from
 * `ZEST_NATS_*`. The `ZEST_NATS_*` variables are removed from the
 * environment once read (every kernel inherits it). Throws a `TypeError`
 * naming what is wrong (a URL with credentials in it, for one).
 *
 * @example
 * ```ts
 * import { clusterOf } from "./cluster_mode.ts";
 * clusterOf("nats://127.0.0.1:4222", undefined, () => undefined);
 * // { nats: { servers: "nats://127.0.0.1:4222" } }
 * ```
 */
export function clusterOf(
  flag: string | undefined,
  config: ClusterOptions | undefined,
  readEnv?: (name: string) => string | undefined,
): ClusterOptions | undefined {
  const fromEnv = natsCredentialsFromEnv(readEnv);
  for (const name of Object.values(NATS_ENV)) {
    try {
      Deno.env.delete(name);
    } catch {
      // Without --allow-env for it there is nothing to remove.
    }
  }
  if (flag === undefined && config === undefined) return undefined;
  const nats = { ...config?.nats, servers: flag ?? config?.nats.servers ?? "" };
  const configured = ["token", "user", "password", "credsFile"].some((field) =>
    nats[field as keyof typeof nats] !== undefined
  );
  const options: ClusterOptions = {
    ...config,
    nats: configured ? nats : { ...nats, ...fromEnv },
  };
  try {
    return checkClusterOptions(options);
  } catch (error) {
    const where = flag !== undefined ? "--nats" : "the config's cluster";
    throw new TypeError(`${where}: ${(error as Error).message}`);
  }
}

/**
 * The banner's cluster line: where the cluster is and what this process
 * hosts in it (no credentials: they never reach stdout).
 *
 * @example
 * ```ts
 * import { clusterLine } from "./cluster_mode.ts";
 * clusterLine({ nats: { servers: "nats://127.0.0.1:4222", token: "s3cret" } }, ["lab"]);
 * // "zest: cluster nats://127.0.0.1:4222 (hosting lab here)"
 * ```
 */
export function clusterLine(cluster: ClusterOptions, services: readonly string[]): string {
  const servers = typeof cluster.nats.servers === "string"
    ? cluster.nats.servers
    : cluster.nats.servers.join(", ");
  const hosting = services.length > 0
    ? `hosting ${services.join(", ")} here`
    : "a gateway: hosting no service here";
  return `zest: cluster ${servers} (${hosting})`;
}
