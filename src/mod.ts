/**
 * Zest: an actor runtime for Deno that runs validated tasks on services and
 * Python code on Jupyter kernels.
 *
 * A task type is a name, a zod schema and whether its tasks may overlap; a
 * service registers a handler per task type; a {@linkcode Runtime} hosts the
 * services behind its task manager, and a {@linkcode Client} submits tasks to
 * it, in-process, over WebSocket (`serve`, `Client.connect`) or over NATS.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Runtime, Service, TaskValidationError } from "./mod.ts";
 * const Greeting = defineTask("Greeting", {
 *   schema: z.object({ greeting: z.string().default("Hello"), name: z.string() }),
 *   parallel: true,
 * });
 * class Greeter extends Service {
 *   constructor(name: string) {
 *     super(name);
 *     this.registerHandler(Greeting, (task) => `${task.greeting} ${task.name} from ${this.name}`);
 *   }
 * }
 * const runtime = await Runtime.start({ services: [new Greeter("greeter")] });
 * const client = runtime.client();
 * assert.equal(
 *   await client.execute("greeter", Greeting.create({ name: "Ada" })),
 *   "Hello Ada from greeter",
 * );
 * // A remote client sends { type, fields }: the runtime validates them.
 * await assert.rejects(
 *   client.execute("greeter", { type: "Greeting", fields: { name: 42 } }),
 *   TaskValidationError,
 * );
 * await runtime.stop();
 * ```
 *
 * @module
 */

// The runtime, its clients and the server.
export { Runtime, type RuntimeOptions } from "./runtime.ts";
export {
  Client,
  type RequestOptions,
  type TaskGraph,
  type TaskInput,
  type TaskRequest,
} from "./transport/client.ts";
export type { ScheduleAction, SummaryPage, TaskPort } from "./transport/port.ts";
export { CONNECTION_LOST, type WebSocketConnectOptions } from "./transport/websocket/port.ts";
export type {
  ClusterOptions,
  ClusterSettings,
  NatsOptions,
  NatsTls,
} from "./transport/nats/options.ts";
export type { NatsConnectOptions } from "./transport/nats/port.ts";
export type { ClusterServiceInfo, ReplicaInfo } from "./transport/nats/registry.ts";
export { serve, type ServeOptions, type ServerBackend, type ZestServer } from "./api/server.ts";
export type { ServerConfig, StoreConfig, ZestConfig } from "./cli/config.ts";
export type { CrashLogger } from "./actor/system.ts";

// Task types, tasks and what they end with.
export {
  defineTask,
  type FieldSchema,
  type SchemaInput,
  type SchemaOutput,
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
  type RawCodeSchema,
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
export { MAX_DURATION_MS, RECORD_LIMITS, type RecordLimits } from "./task/limits.ts";
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
export type { ServiceDescription, TaskOutput } from "./task/protocol.ts";

// Services and their handlers.
export {
  Service,
  type ServiceEnvironment,
  type ServiceOptions,
  type TaskContext,
  type TaskHandler,
  type TaskLogger,
  type WorkerRegistration,
} from "./service/service.ts";
export { IPythonService, type IPythonServiceOptions } from "./service/ipython.ts";
export {
  HandlerLoadError,
  type StderrListener,
  type WorkerContext,
  WorkerCrashedError,
  WorkerHandler,
  type WorkerHandlerFunction,
  type WorkerHandlerOptions,
  type WorkerInfo,
  type WorkerPermissions,
  WorkerPool,
  WorkerPoolClosedError,
  type WorkerPoolOptions,
  type WorkerTask,
} from "./service/pool/mod.ts";

// The task manager's contracts, its schedules and its stores.
export { DEFAULT_MAX_QUEUED_PER_SERVICE, type ManagerOptions } from "./manager/options.ts";
export type {
  GraphRequest,
  OutcomeSink,
  ServiceInfo,
  StuckTask,
  SubmitRequest,
  TaskEvent,
} from "./manager/types.ts";
export { GraphError } from "./manager/graph.ts";
export type { ScheduleConfig, ScheduledTask, ScheduleInfo } from "./manager/schedules.ts";
export { ScheduleError, type ScheduleStatus } from "./manager/schedule.ts";
export { type MemoryStoreOptions, MemoryTaskStore } from "./manager/memory_store.ts";
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
export type { SqliteStoreFile, Synchronous } from "./store/mod.ts";

// Jupyter kernels.
export {
  JupyterServerGoneError,
  JupyterServerNotFoundError,
  JupyterServerStartError,
  KernelClosedError,
  KernelDiedError,
  KernelError,
  KernelLaunchError,
  KernelNotFoundError,
  KernelOutputLostError,
  KernelOutputTooLargeError,
  KernelStartupCodeError,
  KernelTimeoutError,
} from "./kernel/errors.ts";
export type {
  ExecuteOptions,
  ExecutionReply,
  JsonValue,
  Kernel,
  KernelStatus,
} from "./kernel/kernel.ts";
export { JupyterKernel, type KernelStartOptions } from "./kernel/jupyter_kernel.ts";
export {
  type JupyterConnectOptions,
  type JupyterLaunchOptions,
  JupyterServer,
} from "./kernel/server.ts";
export type { ProcessRef } from "./kernel/processes.ts";
