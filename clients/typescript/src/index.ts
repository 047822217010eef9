export { Airlock, TERMINAL_STATUSES } from './client.js';
export type {
  AirlockOptions, CallOptions, CreateTaskRequest, RunOptions, Runtime, Runtimes, Task, TaskList, TaskListQuery, TaskStatus,
  components, paths,
} from './client.js';
export {
  AirlockError, BadRequestError, ConflictError, ConnectionError, ForbiddenError, NotFoundError, RateLimitedError,
  UnauthorizedError, UnavailableError, errorFromProblem,
} from './errors.js';
export type { Problem } from './errors.js';
export { parseSse, type SseEvent } from './sse.js';
