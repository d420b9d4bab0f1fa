/**
 * The smallest Zest program: one service, one task type, an in-process client.
 *
 * Run: `deno run examples/greeting.ts`
 */
import { z } from "zod";
import { defineTask, Runtime, Service } from "../src/mod.ts";

export const Greeting = defineTask("Greeting", {
  schema: z.object({ greeting: z.string().default("Hello"), name: z.string() }),
  parallel: true,
  description: "Greet someone",
});

/** A service with one handler, given as a method. */
export class GreetingService extends Service {
  constructor(name: string) {
    super(name);
    this.registerHandler(Greeting, this.greet);
  }

  greet(task: z.output<typeof Greeting.schema>): string {
    return `${task.greeting} ${task.name} from ${this.name}`;
  }
}

if (import.meta.main) {
  const runtime = await Runtime.start({ services: [new GreetingService("my-service")] });
  const client = runtime.client();
  const request = await client.request(
    "my-service",
    Greeting.create({ name: "Extension Developer" }),
    { attributes: { requestedBy: "examples/greeting.ts" } },
  );
  console.log("task id:", request.taskId);
  console.log("outcome:", await request.outcome);
  console.log("execute:", await client.execute("my-service", Greeting.create({ name: "Ada" })));
  await runtime.stop();
}
