import { z } from 'zod';
import { CapabilityNameSchema } from '../../protocol/capability.ts';
import { CompensationSchema } from '../../protocol/compensation.ts';
import { TaskErrorSchema } from '../../protocol/errors.ts';
import {
  InputFileSchema,
  LimitsSchema,
  MetadataSchema,
  RelativePathSchema,
  RuntimeSchema,
  backendOf,
  type Runtime,
  TaskResultSchema,
  TaskStatusSchema,
  UsageSchema,
} from '../../protocol/task.ts';
import type { TaskRecord } from '../../protocol/task-store.ts';
import { viewStatus } from '../../protocol/task-approval-events.ts';
import type { Config } from '../config.ts';

/** A mount asked for by a task. The path is absolute inside the sandbox, below /mnt. */
export const MountRequestSchema = z.strictObject({
  grant: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  path: z
    .string()
    .regex(/^\/mnt\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'must be an absolute path below /mnt')
    .refine((p) => RelativePathSchema.safeParse(p.slice(1)).success, 'must not contain . or .. segments'),
  mode: z.enum(['ro', 'rw']),
});
export type CreateTaskBody = z.infer<ReturnType<typeof createTaskBodySchema>>;

/** The task representation agents see. */
export const TaskViewSchema = z.strictObject({
  id: z.string(),
  status: TaskStatusSchema,
  runtime: RuntimeSchema,
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  limits: LimitsSchema,
  metadata: MetadataSchema,
  result: TaskResultSchema.optional(),
  error: TaskErrorSchema.optional(),
  usage: UsageSchema.optional(),
  callbackUrl: z.string().optional(),
  /**
   * The rollback of a task that ended `failed`, `timed_out` or `cancelled`: one entry per
   * completed capability call whose capability has a compensation, newest call first, as it
   * runs (`pending`) and ends (`done`, or `failed` with the error after its retries: left for a
   * human). Absent until the harness planned it (or when the task made no capability calls).
   */
  compensations: z.array(CompensationSchema).optional(),
});
export type TaskView = z.infer<typeof TaskViewSchema>;

export function toTaskView(task: TaskRecord): TaskView {
  return {
    id: task.id,
    status: viewStatus(task),
    runtime: task.runtime,
    createdAt: task.createdAt,
    ...(task.startedAt ? { startedAt: task.startedAt } : {}),
    ...(task.finishedAt ? { finishedAt: task.finishedAt } : {}),
    limits: task.limits,
    metadata: task.metadata,
    ...(task.result ? { result: task.result } : {}),
    ...(task.error ? { error: task.error } : {}),
    ...(task.usage ? { usage: task.usage } : {}),
    ...(task.callbackUrl ? { callbackUrl: task.callbackUrl } : {}),
    ...(task.compensations ? { compensations: task.compensations } : {}),
  };
}

export const TaskParamsSchema = z.strictObject({ id: z.string().min(1).max(100) });

export const ListTasksQuerySchema = z.strictObject({
  status: TaskStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const TaskListSchema = z.strictObject({
  items: z.array(TaskViewSchema),
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});

/**
 * Query of a route that declares no query parameters: any parameter is refused (400
 * invalid_request pointing at it, e.g. `/querystring/tenantId`) as on the list routes, never
 * silently ignored.
 */
export const NoQuerySchema = z.strictObject({});

export const ProblemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  code: z.string(),
});

/** Body of POST /v1/tasks. Unknown fields are rejected (mass assignment, API3). */
export function createTaskBodySchema(config: Config) {
  return z.strictObject({
    runtime: RuntimeSchema,
    code: z
      .string()
      .refine((s) => Buffer.byteLength(s) <= config.TASK_MAX_CODE_BYTES, {
        message: `code must be at most ${config.TASK_MAX_CODE_BYTES} bytes`,
      }),
    timeoutMs: z.number().int().min(1).max(config.TASK_MAX_TIMEOUT_MS).optional(),
    memoryMb: z.number().int().min(8).max(config.TASK_MAX_MEMORY_MB).optional(),
    wait: z.number().min(0).max(config.MAX_WAIT_SECONDS).optional(),
    metadata: MetadataSchema.optional(),
    /** Standard input of a container program, as text (sent as its UTF-8 bytes). */
    stdin: z.string().optional(),
    /** Standard input of a container program, as bytes (standard base64, padded). */
    stdinBase64: z.base64().optional(),
    /** Files placed under /work before a container program starts. */
    files: z.array(InputFileSchema).max(100).optional(),
    /** Arguments of a container program. */
    args: z.array(z.string().max(4096)).max(256).optional(),
    /** Grants to mount: `{ grant, path, mode }`. */
    mounts: z.array(MountRequestSchema).max(8).optional(),
    /** Capabilities the code may call (checked against policy now; nothing else is callable). */
    capabilities: z.array(CapabilityNameSchema).max(256).optional(),
    /**
     * Where to POST the task when it ends (Standard Webhooks, signed with the tenant's secret;
     * README "Webhooks"). http(s) only, no user or password; the address is checked on delivery.
     */
    callbackUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .refine((u) => {
        if (!URL.canParse(u)) return true; // the url check above says why
        const p = new URL(u);
        return !p.username && !p.password;
      }, 'must not contain a user or password')
      .optional(),
  }).superRefine((body, ctx) => {
    if (backendOf(body.runtime) === 'isolate') {
      for (const field of ['stdin', 'stdinBase64', 'files', 'args'] as const) {
        if (body[field] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [field], message: `${field} is only for container runtimes (python, node, bash)` });
        }
      }
    }
    if (body.stdin !== undefined && body.stdinBase64 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['stdinBase64'], message: 'send stdin (text) or stdinBase64 (bytes), not both' });
    }
    // stdin and the input files together, in bytes as the program gets them (decoded).
    const stdinBytes =
      body.stdin !== undefined ? Buffer.byteLength(body.stdin) : body.stdinBase64 !== undefined ? base64Bytes(body.stdinBase64) : 0;
    const inputBytes = (body.files ?? []).reduce((n, f) => n + base64Bytes(f.contentBase64), stdinBytes);
    if (inputBytes > config.TASK_MAX_INPUT_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: body.files?.length ? ['files'] : [body.stdin !== undefined ? 'stdin' : 'stdinBase64'],
        message: `stdin and files must total at most ${config.TASK_MAX_INPUT_BYTES} bytes (TASK_MAX_INPUT_BYTES, counted decoded); these are ${inputBytes}`,
      });
    }
    checkInputFilePaths(body.runtime, body.files ?? [], ctx);
    const paths = new Set<string>();
    for (const [i, m] of (body.mounts ?? []).entries()) {
      if (paths.has(m.path)) ctx.addIssue({ code: 'custom', path: ['mounts', i, 'path'], message: 'mount paths must differ' });
      paths.add(m.path);
    }
  });
}


/** Bytes a padded standard base64 string decodes to (`z.base64()` accepts only those). */
export function base64Bytes(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return (b64.length / 4) * 3 - padding;
}

/**
 * The program file of each container runtime, written to /work before the input files: an
 * input file may not take its name. Keep in sync with PROGRAMS in images/supervisor/supervisor.py.
 */
const PROGRAM_FILES: Partial<Record<Runtime, string>> = { python: 'main.py', node: 'main.js', bash: 'main.sh' };

/** NAME_MAX of the sandbox's /work (tmpfs): the longest file or directory name, in bytes. */
const MAX_NAME_BYTES = 255;

/**
 * Input file paths the sandbox would refuse (as a `runtime_error` after the task was queued) are
 * refused here, at submission: a name over NAME_MAX bytes (the whole path stays within PATH_MAX,
 * since RelativePathSchema caps it at 1024 UTF-16 units, at most 3072 bytes), the same path
 * twice, a file where another file needs a directory (`a` and `a/b`), and the program file.
 */
function checkInputFilePaths(runtime: Runtime, files: readonly { path: string }[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  const dirs = new Set<string>();
  for (const file of files) {
    const segments = file.path.split('/');
    for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/'));
  }
  for (const [i, file] of files.entries()) {
    const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['files', i, 'path'], message });
    if (file.path.split('/').some((segment) => Buffer.byteLength(segment) > MAX_NAME_BYTES)) {
      issue(`every name in the path must be at most ${MAX_NAME_BYTES} bytes (UTF-8)`);
    }
    if (seen.has(file.path)) issue('input file paths must differ');
    else if (dirs.has(file.path)) issue('is a directory of another input file');
    if (file.path === PROGRAM_FILES[runtime]) issue(`${file.path} is the program file (the code)`);
    seen.add(file.path);
  }
}
