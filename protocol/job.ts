import { z } from 'zod';
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
  /** Bytes for the program's standard input (containers). */
  stdin: z.string().optional(),
  /** Files written under /work before the program starts (containers). */
  files: z.array(InputFileSchema).optional(),
  /** Command-line arguments of the program (containers). */
  args: z.array(z.string()).optional(),
  /** Grants to mount, already authorized by the harness. */
  mounts: z.array(ResolvedMountSchema).optional(),
});
export type JobPayload = z.infer<typeof JobPayloadSchema>;
