import { z } from 'zod';
import { CapabilityNameSchema } from '../../protocol/capability.ts';
import { ExecuteResultSchema, LimitsSchema, OutputStreamSchema } from '../../protocol/task.ts';

/*
 * The IPC catalogue between the runner (parent) and an isolate host (child process).
 * Keep in sync: runner/isolate-host/host.ts (child) and runner/isolate-host/host-pool.ts (parent).
 * A run is a session: `run` starts it; while it lasts the host sends `output` and `request`
 * messages and the parent answers each request with a `reply` (and says `deadline` when the wall
 * clock stops or runs again); `result` ends it.
 */

/** Largest request body the host forwards to the runner (the rest is refused in the host). */
export const MAX_REQUEST_BODY_CHARS = 1024 * 1024;

export const RunMessageSchema = z.strictObject({
  version: z.literal('v1'),
  type: z.literal('run'),
  /** Already prepared JavaScript (see prepare-code.ts). */
  source: z.string(),
  limits: LimitsSchema,
  /** Grants reachable through the `fs` global (roots already staged by the runner). */
  mounts: z
    .array(
      z.strictObject({
        path: z.string().startsWith('/'),
        root: z.string().startsWith('/'),
        mode: z.enum(['ro', 'rw']),
        maxBytes: z.number().int().positive(),
        usedBytes: z.number().int().nonnegative(),
      }),
    )
    .default([]),
  /** The capabilities the task declared: the functions of its `caps` global. */
  capabilities: z.array(CapabilityNameSchema).max(256).default([]),
  /** Request channels the runner serves for this run (requests on them are forwarded). */
  channels: z.array(z.string().max(64)).max(8).default([]),
});
export type RunMessage = z.infer<typeof RunMessageSchema>;

/** The runner's answer to one `request` of the running task (`reply`: the encoded answer). */
export const ReplyMessageSchema = z.strictObject({
  version: z.literal('v1'),
  type: z.literal('reply'),
  id: z.number().int().positive(),
  reply: z.string(),
});
export type ReplyMessage = z.infer<typeof ReplyMessageSchema>;

/**
 * The run's wall clock moved (runner/run-session.ts WallDeadline): `remainingMs` null = it stands
 * still (a capability call waits for a human's approval), else the time left from now on. The
 * host re-arms its own wall timer; the runner's kill timer moves the same way.
 */
export const DeadlineMessageSchema = z.strictObject({
  version: z.literal('v1'),
  type: z.literal('deadline'),
  remainingMs: z.number().nonnegative().nullable(),
});
export type DeadlineMessage = z.infer<typeof DeadlineMessageSchema>;

/** What the runner sends a host. */
export const ParentMessageSchema = z.discriminatedUnion('type', [RunMessageSchema, ReplyMessageSchema, DeadlineMessageSchema]);

export const HostMessageSchema = z.discriminatedUnion('type', [
  /** A fresh isolate is created and waiting: the host can take a task. */
  z.strictObject({ version: z.literal('v1'), type: z.literal('ready') }),
  z.strictObject({
    version: z.literal('v1'),
    type: z.literal('output'),
    stream: OutputStreamSchema,
    data: z.string(),
  }),
  /** A request of the running task on a channel the runner serves; answered by a `reply`. */
  z.strictObject({
    version: z.literal('v1'),
    type: z.literal('request'),
    id: z.number().int().positive(),
    channel: z.string().max(64),
    op: z.string().max(256),
    body: z.string().max(MAX_REQUEST_BODY_CHARS),
  }),
  z.strictObject({ version: z.literal('v1'), type: z.literal('result'), result: ExecuteResultSchema }),
]);
export type HostMessage = z.infer<typeof HostMessageSchema>;
