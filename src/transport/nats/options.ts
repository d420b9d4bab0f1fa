/**
 * The options of cluster mode, checked at the door: how to reach the NATS
 * server (servers, credentials, TLS) and how the cluster queues and hands
 * out tasks. Nothing here loads the NATS client, so a config file can be
 * checked without it.
 *
 * @module
 */

/**
 * TLS to the NATS server. `true` uses the system's trust store; or name the
 * files (PEM). A `tls://` server URL turns it on too.
 *
 * @example
 * ```ts
 * import type { NatsTls } from "./options.ts";
 * const tls: NatsTls = { caFile: "/etc/zest/nats-ca.pem" };
 * ```
 */
export interface NatsTls {
  /** Certificate authority to trust (PEM file). */
  caFile?: string;
  /** Client certificate (PEM file), for servers that verify clients. */
  certFile?: string;
  /** The client certificate's key (PEM file). */
  keyFile?: string;
  /** Start TLS before the server's greeting (servers with `handshake_first`). */
  handshakeFirst?: boolean;
}

/**
 * How to reach the cluster's NATS server and prove who we are: at most one
 * of `token`, `user` + `password`, `credsFile`.
 *
 * @example
 * ```ts
 * import type { NatsOptions } from "./options.ts";
 * const options: NatsOptions = { servers: "nats://nats.lab:4222", credsFile: "/etc/zest/lab.creds", tls: true };
 * ```
 */
export interface NatsOptions {
  /** `nats://host:port` (or `tls://`), one or several; no credentials in them. */
  servers: string | string[];
  /** A server token (`authorization { token }`); or `ZEST_NATS_TOKEN`. */
  token?: string;
  /** A user name, with `password`; or `ZEST_NATS_USER`. */
  user?: string;
  /** The user's password; or `ZEST_NATS_PASSWORD`. */
  password?: string;
  /** A NATS credentials file (JWT + nkey seed), as `nsc` writes it. */
  credsFile?: string;
  /** `true` for TLS with the system's CAs, or the files to trust and present. */
  tls?: true | NatsTls;
  /** How long the first connection may take (default 5 s). */
  timeoutMs?: number;
}

/**
 * The environment variables credentials may come from (read by
 * {@linkcode natsCredentialsFromEnv}; `deno task start` removes them from its
 * environment once read, so no kernel inherits them).
 *
 * @example
 * ```ts
 * import { NATS_ENV } from "./options.ts";
 * NATS_ENV.token; // "ZEST_NATS_TOKEN"
 * ```
 */
export const NATS_ENV = Object.freeze({
  token: "ZEST_NATS_TOKEN",
  user: "ZEST_NATS_USER",
  password: "ZEST_NATS_PASSWORD",
  credsFile: "ZEST_NATS_CREDS",
});

/** Why `options` cannot be used, naming the field; `undefined` if they can. */
function optionsProblem(options: NatsOptions): string | undefined {
  const servers = typeof options.servers === "string" ? [options.servers] : options.servers;
  if (!Array.isArray(servers) || servers.length === 0) {
    return "servers: give a nats://host:port URL, or a list of them";
  }
  for (const server of servers) {
    const problem = serverProblem(server);
    if (problem) return `servers: ${problem}`;
  }
  const ways = [
    options.token !== undefined,
    options.user !== undefined || options.password !== undefined,
    options.credsFile !== undefined,
  ].filter(Boolean).length;
  if (ways > 1) return "give one of token, user + password, credsFile";
  for (const field of ["token", "user", "password", "credsFile"] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== "string" || value === "")) {
      return `${field}: expected a non-empty string`;
    }
  }
  if ((options.user === undefined) !== (options.password === undefined)) {
    return "user and password go together";
  }
  if (options.tls !== undefined && options.tls !== true) {
    if (options.tls === null || typeof options.tls !== "object") {
      return "tls: expected true or { caFile, certFile, keyFile, handshakeFirst }";
    }
    for (const [key, value] of Object.entries(options.tls)) {
      if (key === "handshakeFirst") {
        if (typeof value !== "boolean") return "tls.handshakeFirst: expected true or false";
      } else if (["caFile", "certFile", "keyFile"].includes(key)) {
        if (typeof value !== "string" || value === "") return `tls.${key}: expected a file path`;
      } else {return `tls: unknown option '${key}' (known: caFile, certFile, keyFile, handshakeFirst)`;}
    }
  }
  const timeout = options.timeoutMs;
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0 && timeout <= 600_000)) {
    return "timeoutMs: expected a whole number of milliseconds from 1 to 600000";
  }
  return undefined;
}

/** Why a server URL is refused, if it is. */
function serverProblem(server: unknown): string | undefined {
  if (typeof server !== "string") return "expected URL strings";
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return `'${server.slice(0, 100)}' is not a URL (nats://host:port)`;
  }
  if (url.protocol !== "nats:" && url.protocol !== "tls:") {
    return `'${url.protocol}' is not a NATS scheme (nats: or tls:)`;
  }
  if (url.username || url.password) {
    // A URL ends up on command lines and in logs: credentials go in their own options.
    return `${url.protocol}//${url.host}: put no credentials in the URL ` +
      `(use token, user + password or credsFile, or the ZEST_NATS_* environment variables)`;
  }
  if (!url.hostname) return `'${server.slice(0, 100)}' has no host`;
  return undefined;
}

/**
 * Check NATS options from outside (a config file, a caller): throws a
 * `TypeError` naming the field and the reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * checkNatsOptions({ servers: "nats://127.0.0.1:4222", token: "s3cret" });
 * assert.throws(() => checkNatsOptions({ servers: "nats://u:p@host:4222" }), /no credentials in the URL/);
 * ```
 */
export function checkNatsOptions(options: NatsOptions): NatsOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      "NATS options: expected { servers, token | user + password | credsFile, tls }",
    );
  }
  const problem = optionsProblem(options);
  if (problem) throw new TypeError(`NATS options: ${problem}`);
  return options;
}

/**
 * Credentials from the environment (`ZEST_NATS_TOKEN`, `ZEST_NATS_USER` +
 * `ZEST_NATS_PASSWORD`, `ZEST_NATS_CREDS`): the fields that are set, for
 * options that give none of their own.
 *
 * @example
 * ```ts
 * import { natsCredentialsFromEnv } from "./options.ts";
 * const credentials = natsCredentialsFromEnv((name) => ({ ZEST_NATS_TOKEN: "s3cret" } as Record<string, string>)[name]);
 * credentials.token; // "s3cret"
 * ```
 */
export function natsCredentialsFromEnv(
  read: (name: string) => string | undefined = readEnv,
): Pick<NatsOptions, "token" | "user" | "password" | "credsFile"> {
  const credentials: Pick<NatsOptions, "token" | "user" | "password" | "credsFile"> = {};
  for (const [field, variable] of Object.entries(NATS_ENV)) {
    const value = read(variable);
    if (value) credentials[field as keyof typeof NATS_ENV] = value;
  }
  return credentials;
}

/** An environment variable, or `undefined` (also without `--allow-env` for it). */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * `servers` as a list.
 *
 * @example
 * ```ts
 * import { serverList } from "./options.ts";
 * serverList({ servers: "nats://127.0.0.1:4222" }); // ["nats://127.0.0.1:4222"]
 * ```
 */
export function serverList(options: NatsOptions): string[] {
  return typeof options.servers === "string" ? [options.servers] : [...options.servers];
}

/**
 * How a cluster queues and hands out tasks; every field has a default.
 *
 * @example
 * ```ts
 * import type { ClusterSettings } from "./options.ts";
 * const testing: ClusterSettings = { ackWaitMs: 2_000, maxDeliver: 3 };
 * ```
 */
export interface ClusterSettings {
  /**
   * How long a task may go without a heartbeat from the replica that holds
   * it before it goes to another replica (default 30 s; heartbeats every
   * third of it while the replica has it).
   */
  ackWaitMs?: number;
  /** Deliveries of a task before it ends failed, abandoned (default 5). */
  maxDeliver?: number;
  /**
   * Tasks per service and kind in the stream (waiting or running); past it a
   * submission is refused with `QueueFullError` (default 100 000).
   */
  maxQueuedPerService?: number;
  /** Parallel tasks of one service running at once in the whole cluster (default 10 000). */
  maxParallelPerService?: number;
  /** Parallel tasks of one service one replica takes at a time (default 100). */
  parallelPerReplica?: number;
  /** How often a replica refreshes its registry entry (default 2 s; gone after 3 missed). */
  registryRefreshMs?: number;
}

/**
 * The settings with their defaults.
 *
 * @example
 * ```ts
 * import { checkSettings, type Settings } from "./options.ts";
 * const settings: Settings = checkSettings({ ackWaitMs: 2_000 });
 * ```
 */
export type Settings = Required<ClusterSettings>;

/**
 * The defaults of {@linkcode ClusterSettings}.
 *
 * @example
 * ```ts
 * import { DEFAULT_SETTINGS } from "./options.ts";
 * DEFAULT_SETTINGS.ackWaitMs; // 30000
 * ```
 */
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxQueuedPerService: 100_000,
  maxParallelPerService: 10_000,
  parallelPerReplica: 100,
  registryRefreshMs: 2_000,
});

const BOUNDS: Record<keyof Settings, [number, number]> = {
  ackWaitMs: [500, 3_600_000],
  maxDeliver: [2, 1_000],
  maxQueuedPerService: [1, 100_000_000],
  maxParallelPerService: [1, 1_000_000],
  parallelPerReplica: [1, 100_000],
  registryRefreshMs: [100, 60_000],
};

/**
 * `settings` with defaults filled in; throws a `TypeError` naming a field
 * that is not a whole number within its bounds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSettings } from "./options.ts";
 * assert.equal(checkSettings({ maxDeliver: 3 }).maxDeliver, 3);
 * assert.throws(() => checkSettings({ ackWaitMs: 1 }), /ackWaitMs/);
 * ```
 */
export function checkSettings(settings: ClusterSettings = {}): Settings {
  const out = { ...DEFAULT_SETTINGS };
  for (const [field, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    const bounds = BOUNDS[field as keyof Settings];
    if (!bounds) {
      throw new TypeError(
        `cluster settings: unknown field '${field}' (known: ${Object.keys(BOUNDS).join(", ")})`,
      );
    }
    if (!Number.isInteger(value) || value < bounds[0] || value > bounds[1]) {
      throw new TypeError(
        `cluster settings: ${field} must be a whole number from ${bounds[0]} to ${
          bounds[1]
        }, got ${value}`,
      );
    }
    out[field as keyof Settings] = value;
  }
  return out;
}

/**
 * What joins a runtime to a cluster.
 *
 * @example
 * ```ts
 * import type { ClusterOptions } from "./options.ts";
 * const cluster: ClusterOptions = {
 *   nats: { servers: "nats://nats.lab:4222", credsFile: "/etc/zest/lab.creds" },
 *   settings: { ackWaitMs: 30_000 },
 * };
 * ```
 */
export interface ClusterOptions {
  /** The NATS server (with JetStream) and how to authenticate. */
  nats: NatsOptions;
  /** How tasks are queued and handed out (see `ClusterSettings`). */
  settings?: ClusterSettings;
}

/**
 * Check cluster options from outside; throws a `TypeError` naming the field.
 *
 * @example
 * ```ts
 * import { checkClusterOptions } from "./options.ts";
 * checkClusterOptions({ nats: { servers: "nats://127.0.0.1:4222" } });
 * ```
 */
export function checkClusterOptions(options: ClusterOptions): ClusterOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError("cluster: expected { nats: { servers, … }, settings? }");
  }
  for (const key of Object.keys(options)) {
    if (key !== "nats" && key !== "settings") {
      throw new TypeError(`cluster: unknown option '${key}' (known: nats, settings)`);
    }
  }
  checkNatsOptions(options.nats);
  checkSettings(options.settings);
  return options;
}
