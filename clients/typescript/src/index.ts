export { Airlock, TERMINAL_STATUSES } from './client.js';
export type {
  AirlockOptions, Approval, ApprovalList, AuditPage, AuditVerification, BodyOf, CallInit, CallOptions, CapabilityList,
  CreateTaskRequest, OkOf, Operation, PathParamsOf, QueryOf, RunOptions, Runtime, Runtimes, Task, TaskList, TaskListQuery,
  TaskStatus, Trace, Verb, components, paths,
} from './client.js';
export {
  AirlockError, BadRequestError, ConflictError, ConnectionError, ForbiddenError, NotFoundError, RateLimitedError,
  UnauthorizedError, UnavailableError, errorFromProblem,
} from './errors.js';
export type { Problem } from './errors.js';
export { parseSse, type SseEvent } from './sse.js';
