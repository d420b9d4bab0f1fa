import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "./config.ts";

/** Load a config file whose default export is `body`, from a fresh directory. */
async function loadWith(body: string) {
  const dir = await Deno.makeTempDir({ prefix: "zest-config-" });
  const path = `${dir}/zest.config.ts`;
  await Deno.writeTextFile(path, `export default ${body};\n`);
  try {
    return { path, config: await loadConfig(path) };
  } catch (error) {
    return { path, error: error as Error };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("config: bad workers options are a ConfigError naming the file and the option", async () => {
  const cases: [string, RegExp][] = [
    [
      "{ services: [], workers: { size: 0 } }",
      /workers\.size must be a whole number from 1 to 256/,
    ],
    ["{ services: [], workers: { size: 1.5 } }", /workers\.size must be a whole number/],
    ["{ services: [], workers: { graceMs: 3e9 } }", /workers\.graceMs/],
    ["{ services: [], workers: { colour: 1 } }", /unknown workers option 'colour'/],
    ["{ services: [], workers: { stderr: true } }", /unknown workers option 'stderr'/],
  ];
  for (const [body, reason] of cases) {
    const { path, error } = await loadWith(body);
    assert.ok(error instanceof ConfigError, `${body}: ${error}`);
    assert.ok(error.message.startsWith(`${path}: `), error.message);
    assert.match(error.message, reason);
  }
  const { config } = await loadWith("{ services: [], workers: { size: 2, graceMs: 500 } }");
  assert.deepEqual(config?.workers, { size: 2, graceMs: 500 });
});
