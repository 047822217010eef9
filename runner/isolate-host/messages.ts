import { z } from 'zod';
import { ExecuteResultSchema, LimitsSchema, OutputStreamSchema } from '../../protocol/task.ts';

/*
 * The IPC catalogue between the runner (parent) and an isolate host (child process).
 * Keep in sync: runner/isolate-host/host.ts (child) and runner/isolate-host/host-pool.ts (parent).
 */

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
});
export type RunMessage = z.infer<typeof RunMessageSchema>;

export const HostMessageSchema = z.discriminatedUnion('type', [
  /** A fresh isolate is created and waiting: the host can take a task. */
  z.strictObject({ version: z.literal('v1'), type: z.literal('ready') }),
  z.strictObject({
    version: z.literal('v1'),
    type: z.literal('output'),
    stream: OutputStreamSchema,
    data: z.string(),
  }),
  z.strictObject({ version: z.literal('v1'), type: z.literal('result'), result: ExecuteResultSchema }),
]);
export type HostMessage = z.infer<typeof HostMessageSchema>;
