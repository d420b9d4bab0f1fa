/** Where the server's token comes from: `ZEST_TOKEN`, or a file only its owner can read. */
import { generateToken, isValidToken } from "../api/auth.ts";

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
  await Deno.writeTextFile(temporary, generateToken() + "\n", { mode: 0o600, createNew: true });
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
 * The token a command-line client uses: `--token`, else `ZEST_TOKEN`, else
 * the token file the server wrote.
 *
 * @example
 * ```ts
 * import { clientToken } from "./token.ts";
 * const token = await clientToken(undefined); // from ZEST_TOKEN or .zest/token
 * ```
 */
export async function clientToken(flag: string | undefined, path = TOKEN_FILE): Promise<string> {
  if (flag) return checked(flag, "--token");
  const fromEnv = Deno.env.get("ZEST_TOKEN");
  if (fromEnv) return checked(fromEnv, "ZEST_TOKEN");
  try {
    return checked((await Deno.readTextFile(path)).trim(), path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      `no token: pass --token, set ZEST_TOKEN, or run where \`deno task start\` wrote ${path}`,
    );
  }
}
