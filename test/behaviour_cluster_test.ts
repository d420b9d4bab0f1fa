/**
 * The shared behaviour suite (`helpers/behaviour_suite.ts`) against a
 * cluster: a real `nats-server`, one real `deno task start --nats` process
 * hosting the suite's services, and a client connected straight to NATS in
 * this process — the same assertions as the embedded run.
 */
import { Client } from "../src/mod.ts";
import { behaviourSuite } from "./helpers/behaviour_suite.ts";
import { startReplica } from "./helpers/cluster.ts";
import { NatsServer } from "./helpers/nats.ts";

behaviourSuite("cluster", async () => {
  const server = await NatsServer.start();
  const replica = await startReplica({
    config: "test/fixtures/behaviour.config.ts",
    nats: server.url,
  })
    .catch(async (error) => {
      await server.stop();
      throw error;
    });
  const client = await Client.connect(server.url);
  return {
    client,
    async stop() {
      await client.close();
      await replica.stop();
      await server.stop();
    },
  };
});
