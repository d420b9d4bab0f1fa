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
export {
  Client,
  type RequestOptions,
  type TaskGraph,
  type TaskInput,
  type TaskRequest,
} from "./transport/client.ts";
export type { SummaryPage, TaskPort } from "./transport/port.ts";
export { CONNECTION_LOST, type ConnectOptions } from "./transport/websocket/port.ts";
export {
  Service,
  type ServiceEnvironment,
  type ServiceOptions,
  type TaskContext,
  type TaskHandler,
  type TaskLogger,
  type WorkerRegistration,
} from "./service/service.ts";
export {
  HandlerLoadError,
  type WorkerContext,
  WorkerCrashedError,
  type WorkerPermissions,
  WorkerPoolClosedError,
  type WorkerPoolOptions,
} from "./service/pool/mod.ts";
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
  TaskConflictError,
  TaskExecutionError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskError,
  UnknownTaskTypeError,
} from "./task/errors.ts";
export { parseRetryPolicy, type RetryOptions, RetryPolicy } from "./task/retry.ts";
export { MAX_DURATION_MS, RECORD_LIMITS } from "./task/limits.ts";
export type {
  DisplayOutput,
  ErrorOutcome,
  Execution,
  OkOutcome,
  TaskOutcome,
} from "./task/outcome.ts";
export {
  TASK_STATES,
  type TaskBrief,
  type TaskLogEntry,
  type TaskProgress,
  type TaskRecord,
  type TaskRecordSummary,
  type TaskState,
} from "./task/record.ts";
export type { TaskOutput } from "./task/protocol.ts";
export { DEFAULT_MAX_QUEUED_PER_SERVICE, type ManagerOptions } from "./manager/manager.ts";
export { MemoryTaskStore } from "./manager/memory_store.ts";
export {
  type RetentionLimits,
  type RetentionOptions,
  StoreFailedError,
  StoreOpenError,
  type StoreStats,
  type TaskListQuery,
  type TaskPage,
  type TaskStore,
} from "./manager/store.ts";
export type {
  GraphRequest,
  OutcomeSink,
  ServiceInfo,
  StuckTask,
  SubmitRequest,
  TaskEvent,
} from "./manager/types.ts";
export { IPythonService, type IPythonServiceOptions } from "./service/ipython.ts";
export type { ExecutionReply, Kernel, KernelStatus } from "./kernel/kernel.ts";
export type {
  ConnectOptions as JupyterConnectOptions,
  LaunchOptions as JupyterLaunchOptions,
} from "./kernel/server.ts";
export { KernelDiedError, KernelNotFoundError, KernelTimeoutError } from "./kernel/errors.ts";
export { serve, type ServeOptions, type ZestServer } from "./api/server.ts";
