/**
 * Where tokens come from: the server's from `ZEST_TOKEN` or a file only its
 * owner can read; the command-line client's also from a flag, a file or
 * standard input.
 *
 * @module
 */
import { isValidToken } from "../transport/websocket/protocol.ts";
import { randomToken } from "../util/random.ts";

/**
 * The default token file, relative to the working directory.
 *
 * @example
 * ```ts
 * import { TOKEN_FILE } from "./token.ts";
 * const token = (await Deno.readTextFile(TOKEN_FILE)).trim();
 * ```
 */
export const TOKEN_FILE = ".zest/token";

/**
 * A token, and where it came from (for the start banner).
 *
 * @example
 * ```ts
 * import { serverToken, type TokenSource } from "./token.ts";
 * const source: TokenSource = await serverToken();
 * source.from; // "ZEST_TOKEN" or ".zest/token"
 * ```
 */
export interface TokenSource {
  token: string;
  /** `"ZEST_TOKEN"`, or the token file's path. */
  from: string;
  /** True when this call generated it. */
  created: boolean;
}

function checked(token: string, from: string): string {
  if (!isValidToken(token)) {
    throw new Error(
      `the token in ${from} is not usable: it needs 16 to 512 characters from ` +
        "A-Z a-z 0-9 and !#$%&'*+.^_`|~-",
    );
  }
  return token;
}

async function readTokenFile(path: string): Promise<string> {
  const info = await Deno.stat(path);
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    // Someone loosened it: a token readable by others is not a secret.
    await Deno.chmod(path, 0o600);
    console.error(`zest: ${path} was readable by others; its mode is now 0600`);
  }
  return checked((await Deno.readTextFile(path)).trim(), path);
}

/**
 * The server's token: `ZEST_TOKEN` if set, else the token file, created on
 * first use with mode 0600 in a 0700 directory. Creation is atomic (write a
 * private temp file, then hard-link it into place), so two servers starting
 * at once agree on one token.
 *
 * @example
 * ```ts
 * import { serverToken } from "./token.ts";
 * const { token, from } = await serverToken();
 * console.log(`token in ${from}`);
 * ```
 */
export async function serverToken(path = TOKEN_FILE): Promise<TokenSource> {
  const fromEnv = Deno.env.get("ZEST_TOKEN");
  if (fromEnv) return { token: checked(fromEnv, "ZEST_TOKEN"), from: "ZEST_TOKEN", created: false };
  try {
    return { token: await readTokenFile(path), from: path, created: false };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const directory = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(directory, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${crypto.randomUUID()}`;
  await Deno.writeTextFile(temporary, randomToken() + "\n", { mode: 0o600, createNew: true });
  let created = true;
  try {
    await Deno.link(temporary, path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    created = false; // Another process won the race: use its token.
  } finally {
    await Deno.remove(temporary);
  }
  return { token: await readTokenFile(path), from: path, created };
}

/**
 * A token given to a command-line client (`--token`, `--token-file`, or
 * `ZEST_TOKEN`) that cannot be used: a usage error, not a server's refusal.
 *
 * @example
 * ```ts
 * import { clientToken, TokenInputError } from "./token.ts";
 * try {
 *   await clientToken({ token: "short" });
 * } catch (error) {
 *   error instanceof TokenInputError; // true
 * }
 * ```
 */
export class TokenInputError extends Error {
  override name = "TokenInputError";
}

/**
 * Where a command-line client takes its token from, besides `ZEST_TOKEN`
 * and the token file.
 *
 * @example
 * ```ts
 * import type { ClientTokenOptions } from "./token.ts";
 * const fromStdin: ClientTokenOptions = { tokenFile: "-" };
 * ```
 */
export interface ClientTokenOptions {
  /** `--token`: the token itself (visible in the process list; prefer the others). */
  token?: string;
  /** `--token-file`: a file holding the token, or `-` for standard input. */
  tokenFile?: string;
  /** The token file `deno task start` wrote (default {@link TOKEN_FILE}). */
  path?: string;
}

/** Of a token file, or standard input, this many characters at most are read. */
const MAX_TOKEN_INPUT_CHARS = 4096;

/** The first line of `stream`, read up to {@link MAX_TOKEN_INPUT_CHARS}. */
async function firstLine(stream: ReadableStream<Uint8Array>, from: string): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      if (text.includes("\n")) break;
      if (text.length > MAX_TOKEN_INPUT_CHARS) {
        throw new TokenInputError(
          `${from} holds more than a token: over ${MAX_TOKEN_INPUT_CHARS} characters`,
        );
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.split("\n", 1)[0].trim();
}

async function readTokenInput(tokenFile: string): Promise<string> {
  if (tokenFile === "-") return await firstLine(Deno.stdin.readable, "standard input");
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tokenFile);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new TokenInputError(
        `--token-file: \`deno task zest\` may read only .zest/; pass the file on standard ` +
          `input instead: --token-file - < ${tokenFile}`,
      );
    }
    throw new TokenInputError(`--token-file ${tokenFile}: ${(error as Error).message}`);
  }
  return await firstLine(file.readable, tokenFile);
}

function usable(token: string, from: string): string {
  try {
    return checked(token, from);
  } catch (error) {
    throw new TokenInputError((error as Error).message);
  }
}

/**
 * The token a command-line client uses: `--token`, or `--token-file` (a
 * file, or `-` for standard input: its first line), else `ZEST_TOKEN`, else
 * the token file the server wrote.
 *
 * @throws {TokenInputError} a given token is not usable, or both flags are given
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientToken } from "./token.ts";
 * assert.equal(await clientToken({ token: "lab-token-0123456789" }), "lab-token-0123456789");
 * // `… --token-file - < secret`: the first line of standard input
 * const piped = () => clientToken({ tokenFile: "-" });
 * ```
 */
export async function clientToken(options: ClientTokenOptions = {}): Promise<string> {
  const { token, tokenFile, path = TOKEN_FILE } = options;
  if (token !== undefined && tokenFile !== undefined) {
    throw new TokenInputError("give --token or --token-file, not both");
  }
  if (token !== undefined) return usable(token, "--token");
  if (tokenFile !== undefined) {
    const from = tokenFile === "-" ? "standard input" : tokenFile;
    return usable(await readTokenInput(tokenFile), `--token-file ${from}`);
  }
  const fromEnv = Deno.env.get("ZEST_TOKEN");
  if (fromEnv) return usable(fromEnv, "ZEST_TOKEN");
  try {
    return checked((await Deno.readTextFile(path)).trim(), path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      `no token: pass --token-file, set ZEST_TOKEN, or run where \`deno task start\` wrote ${path}`,
    );
  }
}
