import { z } from 'zod';
import { CapabilityNameSchema } from './capability.ts';
import { TRACEPARENT_PATTERN } from './telemetry/tracing.ts';
import { InputFileSchema, LimitsSchema, ResolvedMountSchema, RuntimeSchema } from './task.ts';

/**
 * The BullMQ job payload. It carries no secrets: a runner must be safe to assume compromised.
 * The runner parses it again on receipt (never trust the queue).
 */
export const JobPayloadSchema = z.strictObject({
  version: z.literal('v1'),
  taskId: z.uuid(),
  tenantId: z.string().min(1),
  agentId: z.string().min(1),
  runtime: RuntimeSchema,
  code: z.string(),
  limits: LimitsSchema,
  /** The program's standard input as text, given to it as UTF-8 (containers). */
  stdin: z.string().optional(),
  /** The program's standard input as bytes, base64 (containers). At most one of the two. */
  stdinBase64: z.base64().optional(),
  /** Files written under /work before the program starts (containers). */
  files: z.array(InputFileSchema).optional(),
  /** Command-line arguments of the program (containers). */
  args: z.array(z.string()).optional(),
  /** Grants to mount, already authorized by the harness. */
  mounts: z.array(ResolvedMountSchema).optional(),
  /**
   * The capabilities the task declared at creation (already checked against policy): the only
   * ones its code can call, and the only ones that appear on its `caps` client.
   */
  capabilities: z.array(CapabilityNameSchema).max(256).optional(),
  /**
   * W3C trace context of the enqueue (only when the harness exports traces): the runner's span
   * of this task is its child. Never anything but a trace context.
   */
  traceparent: z.string().regex(TRACEPARENT_PATTERN).optional(),
}).refine((job) => job.stdin === undefined || job.stdinBase64 === undefined, {
  message: 'stdin and stdinBase64 are exclusive',
  path: ['stdinBase64'],
});
export type JobPayload = z.infer<typeof JobPayloadSchema>;
