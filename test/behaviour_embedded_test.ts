/**
 * The shared behaviour suite (`helpers/behaviour_suite.ts`) against an
 * embedded runtime: the reference the cluster's run of the same suite
 * (`behaviour_cluster_test.ts`) must match.
 */
import { Runtime } from "../src/mod.ts";
import { behaviourSuite } from "./helpers/behaviour_suite.ts";
import { behaviourServices } from "./fixtures/behaviour.config.ts";

behaviourSuite("embedded", async () => {
  const runtime = await Runtime.start({ services: behaviourServices() });
  return { client: runtime.client(), stop: () => runtime.stop() };
});
