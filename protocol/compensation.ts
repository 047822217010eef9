/**
 * Rollback: the compensations of a task that ended `failed`, `timed_out` or `cancelled`, as the
 * task record keeps them and `GET /v1/tasks/:id` shows them (harness/rollback/ runs them). One
 * per completed capability call whose capability names a `compensation`, newest call first.
 * Keep in sync: harness/rollback/ (writes them), harness/schemas/tasks.ts (shows them).
 */
import { z } from 'zod';
import { CapabilityNameSchema } from './capability.ts';

/** `pending` until it ran (or is retried), then `done`, or `failed` for good (left for a human). */
export const CompensationStatusSchema = z.enum(['pending', 'done', 'failed']);
export type CompensationStatus = z.infer<typeof CompensationStatusSchema>;

export const CompensationSchema = z.strictObject({
  /** The position (`seq`) of the task's capability call this compensation undoes. */
  call: z.number().int().nonnegative(),
  /** The capability that call used. */
  of: CapabilityNameSchema,
  /** The capability that undoes it (the `compensation` of the call's capability). */
  capability: CapabilityNameSchema,
  status: CompensationStatusSchema,
  /** Tries so far. */
  attempts: z.number().int().nonnegative(),
  /** Why the last try failed (the capability error code and message). */
  error: z.strictObject({ code: z.string().max(100), message: z.string().max(4096) }).optional(),
  /** When it became `done` or `failed`. */
  finishedAt: z.string().optional(),
});
export type Compensation = z.infer<typeof CompensationSchema>;

/** The statuses a task ends in that roll back its completed calls. */
export const ROLLBACK_STATUSES = ['failed', 'timed_out', 'cancelled'] as const;
