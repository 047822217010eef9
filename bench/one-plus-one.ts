/**
 * What the e2e cost comparisons (audit-cost, security-path, telemetry-cost) share: the `1+1`
 * POST-with-wait they time, and the environment of a bench-only runner on a queue of its own.
 */
import { randomUUID } from 'node:crypto';
import type { HttpClient } from './http.ts';

/** Ms of one `1+1` POST with wait, or null unless it answered 201 with the task succeeded = 2. */
export async function postOnePlusOne(client: HttpClient, apiKey: string): Promise<number | null> {
  const t0 = performance.now();
  const res = await client.request('POST', '/v1/tasks', {
    headers: { authorization: `Bearer ${apiKey}`, 'idempotency-key': `"${randomUUID()}"` },
    body: { runtime: 'javascript', code: '1+1', wait: 30 },
    timeoutMs: 30_000,
  });
  const ms = performance.now() - t0;
  if (res.status !== 201) return null;
  const task = JSON.parse(res.body) as { status: string; result?: { value: unknown } };
  return task.status === 'succeeded' && task.result?.value === 2 ? ms : null;
}

/** Env of an isolate-only runner for `queue`, from the stack's harness env (same Redis, blobs, retention). */
export function benchRunnerEnv(
  env: Readonly<Record<string, string | undefined>>,
  queue: string,
  isolateHosts: number,
  idPrefix: string,
  extra: Record<string, string> = {},
): Record<string, string | undefined> {
  return {
    PATH: env['PATH'], HOME: env['HOME'], NODE_ENV: env['NODE_ENV'], REDIS_URL: env['REDIS_URL'], LOG_LEVEL: 'silent',
    TASK_RETENTION_MS: env['TASK_RETENTION_MS'], BLOB_DIR: env['BLOB_DIR'], AIRLOCK_TASK_QUEUE: queue,
    ISOLATE_HOSTS: String(isolateHosts), RUNNER_ID: `${idPrefix}-${randomUUID()}`, RUNNER_BACKENDS: 'isolate',
    ...extra,
  };
}
