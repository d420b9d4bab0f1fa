/**
 * Zest: an actor runtime for Deno that runs validated tasks on services and
 * Python code on Jupyter kernels.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { defineTask, Runtime, Service } from "./mod.ts";
 * const Greeting = defineTask("Greeting", {
 *   schema: z.object({ greeting: z.string().default("Hello"), name: z.string() }),
 *   parallel: true,
 * });
 * class MyService extends Service {
 *   constructor(name: string) {
 *     super(name);
 *     this.registerHandler(Greeting, (task) => `${task.greeting} ${task.name} from ${this.name}`);
 *   }
 * }
 * const runtime = await Runtime.start({ services: [new MyService("my-service")] });
 * await runtime.client().execute("my-service", Greeting.create({ name: "Ada" }));
 * await runtime.stop();
 * ```
 *
 * @module
 */
export { Runtime, type RuntimeOptions } from "./runtime.ts";
export { Client, type RequestOptions, type TaskInput, type TaskRequest } from "./api/client.ts";
export {
  Service,
  type ServiceEnvironment,
  type ServiceOptions,
  type TaskContext,
  type TaskHandler,
  type TaskLogger,
} from "./service/service.ts";
export {
  defineTask,
  Task,
  TaskType,
  type TaskTypeInfo,
  type TaskTypeOptions,
} from "./task/define.ts";
export {
  CodeTaskType,
  type CodeTaskTypeOptions,
  defineIPythonTask,
  ExecuteCode,
} from "./task/code.ts";
export { py } from "./task/py.ts";
export {
  type FieldIssue,
  QueueFullError,
  RuntimeErrorName,
  RuntimeStoppingError,
  ServiceStoppedError,
  TaskExecutionError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskTypeError,
} from "./task/errors.ts";
export { MAX_DURATION_MS, RECORD_LIMITS } from "./task/limits.ts";
export type {
  DisplayOutput,
  ErrorOutcome,
  Execution,
  OkOutcome,
  TaskOutcome,
} from "./task/outcome.ts";
export type {
  TaskBrief,
  TaskLogEntry,
  TaskRecord,
  TaskRecordSummary,
  TaskState,
} from "./task/record.ts";
export type { ManagerOptions, RetentionOptions } from "./manager/manager.ts";
export type { TaskQuery, TaskStore } from "./manager/store.ts";
export type { ServiceInfo, TaskEvent, TaskPort } from "./manager/types.ts";
export { IPythonService, type IPythonServiceOptions } from "./service/ipython.ts";
export type { ExecutionReply, Kernel, KernelStatus } from "./kernel/kernel.ts";
export type {
  ConnectOptions as JupyterConnectOptions,
  LaunchOptions as JupyterLaunchOptions,
} from "./kernel/server.ts";
export { KernelDiedError, KernelNotFoundError, KernelTimeoutError } from "./kernel/errors.ts";
export type { ConnectOptions } from "./api/remote.ts";
export { serve, type ServeOptions, type ZestServer } from "./api/server.ts";
