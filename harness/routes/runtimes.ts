/**
 * `GET /v1/runtimes`: what a caller can run here — each runtime with its language, the backend
 * that runs it, whether a live runner serves it now, whether policy lets this caller create
 * tasks of it (with the default limits), and the limits (defaults and caps) a task may ask for.
 * An agent (or an SDK) reads it once instead of learning the limits from 400s.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { backendOf, RuntimeSchema, type Runtime } from '../../protocol/task.ts';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import type { PolicyGate } from '../policy/gate.ts';
import type { RuntimeCheck } from '../runners/runtime-availability.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { ProblemSchema } from '../schemas/tasks.ts';

/**
 * The language each runtime speaks. Isolates run the V8 of this Node.js; the container images
 * are built from Debian bookworm (images/), whose packages fix these versions.
 */
const LANGUAGES: Record<Runtime, string> = {
  javascript: `JavaScript (ECMAScript, V8 ${process.versions.v8}); no Node.js APIs`,
  typescript: `TypeScript (types stripped by esbuild, then V8 ${process.versions.v8}); no Node.js APIs`,
  python: 'Python 3.11 (Debian bookworm), standard library only',
  node: 'Node.js 18 (Debian bookworm), built-in modules only',
  bash: 'GNU Bash 5.2 with coreutils (Debian bookworm)',
};

const RangeSchema = z.strictObject({ default: z.number().int(), max: z.number().int() });
const RuntimeInfoSchema = z.strictObject({
  name: RuntimeSchema,
  language: z.string(),
  backend: z.enum(['isolate', 'container']),
  /** Some live runner can run it now. */
  available: z.boolean(),
  /** Why not, when it is not available. */
  unavailableReason: z.string().optional(),
  /** Policy lets this caller create a task of this runtime with the default limits. */
  allowed: z.boolean(),
  limits: z.strictObject({
    timeoutMs: RangeSchema,
    memoryMb: RangeSchema,
    outputBytes: z.number().int(),
    codeBytes: z.number().int(),
    inputBytes: z.number().int(),
  }),
});

export interface RuntimeRoutesOptions {
  config: Config;
  tasks: TaskService;
  policy: PolicyGate;
  /** The live runners' view (always, even where TASKS_REQUIRE_LIVE_RUNNER=false). */
  runtimes: RuntimeCheck;
  principalOf: (request: FastifyRequest) => Principal;
}

export async function runtimeRoutes(app: FastifyInstance, options: RuntimeRoutesOptions): Promise<void> {
  const { config, tasks, policy } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/v1/runtimes',
    {
      schema: {
        response: {
          200: z.strictObject({ runtimes: z.array(RuntimeInfoSchema) }),
          401: ProblemSchema,
        },
      },
    },
    async (request) => {
      const principal = options.principalOf(request);
      const runtimes = await Promise.all(
        RuntimeSchema.options.map(async (name) => {
          const defaults = tasks.limitsFor({ runtime: name, code: '' });
          const [why, decision] = await Promise.all([
            options.runtimes.whyUnavailable(name),
            policy.decide(request, principal, 'tasks.create', { type: 'Runtime', id: name }, {
              timeoutMs: defaults.timeoutMs,
              memoryMb: defaults.memoryMb,
              mounts: 0,
            }),
          ]);
          return {
            name,
            language: LANGUAGES[name],
            backend: backendOf(name),
            available: why === null,
            ...(why === null ? {} : { unavailableReason: why }),
            allowed: decision.allowed,
            limits: {
              timeoutMs: { default: defaults.timeoutMs, max: config.TASK_MAX_TIMEOUT_MS },
              memoryMb: { default: defaults.memoryMb, max: config.TASK_MAX_MEMORY_MB },
              outputBytes: config.TASK_OUTPUT_BYTES,
              codeBytes: config.TASK_MAX_CODE_BYTES,
              inputBytes: config.TASK_MAX_INPUT_BYTES,
            },
          };
        }),
      );
      return { runtimes };
    },
  );
}
