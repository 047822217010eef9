/**
 * Fixtures of the OWASP sweep (test/integration/owasp-sweep.test.ts):
 * - `captureRoutes`: every route the real app registers, read from Fastify itself (the
 *   documented `fastify.initialization` diagnostics channel lets an `onRoute` hook in before any
 *   route exists), so a route added later cannot escape a sweep built on this list;
 * - `writeTwinAgentsFile`: one config agent named `twin` in each of several tenants (same agent
 *   id, different tenants: only the tenant tells their tasks and idempotency keys apart);
 * - `createTenantWithId`: a tenant with an id chosen in advance, through the real admin API;
 * - `finishTaskWithFile`: plays the runner's part for one queued task (running, an output
 *   chunk, an output file, succeeded) through the real TaskStore, exactly the calls
 *   runner/job-processor.ts makes, so file routes can be tested without Docker.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { hashApiKey } from '../../harness/auth/api-key-authenticator.ts';
import { bearer } from './identity.ts';
import type { Stack } from './stack.ts';

export interface RegisteredRoute {
  method: string;
  url: string;
  /** The route's schemas as registered (zod schemas in this app), or undefined. */
  body: unknown;
  querystring: unknown;
  params: unknown;
}

/** Runs `build` (which creates one Fastify app) and returns every route that app registered. */
export async function captureRoutes<T>(build: () => Promise<T>): Promise<{ result: T; routes: RegisteredRoute[] }> {
  const routes: RegisteredRoute[] = [];
  const onInit = (message: unknown) => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) {
        routes.push({
          method,
          url: route.url,
          body: route.schema?.body,
          querystring: route.schema?.querystring,
          params: route.schema?.params,
        });
      }
    });
  };
  diagnostics.subscribe('fastify.initialization', onInit);
  try {
    const result = await build();
    return { result, routes };
  } finally {
    diagnostics.unsubscribe('fastify.initialization', onInit);
  }
}

/** An agents file with a config agent `twin` in each tenant; returns the file and each twin's key. */
export async function writeTwinAgentsFile(
  tenantIds: readonly string[],
): Promise<{ file: string; keys: Record<string, string> }> {
  const keys = Object.fromEntries(tenantIds.map((t) => [t, `key-twin-${t}-${randomUUID()}`]));
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-owasp-'));
  const file = path.join(dir, 'agents.json');
  await writeFile(
    file,
    JSON.stringify({
      agents: tenantIds.map((tenantId) => ({ tenantId, agentId: 'twin', keySha256: [hashApiKey(keys[tenantId]!)] })),
    }),
  );
  return { file, keys };
}

/** Creates tenant `id` with the bootstrap key; returns its first admin (a user with role admin). */
export async function createTenantWithId(
  stack: Stack,
  bootstrapKey: string,
  id: string,
): Promise<{ adminId: string; adminKey: string; adminKeyId: string }> {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/admin/tenants',
    headers: bearer(bootstrapKey),
    payload: { id, name: `Tenant ${id}`, admin: { name: 'Ada Admin' } },
  });
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json();
  return { adminId: body.admin.id, adminKey: body.secret, adminKeyId: body.key.id };
}

/**
 * Moves a queued task to succeeded the way the runner does, with `stdout` as an output event
 * and one file under /out; its BullMQ job is removed (a runner would have consumed it).
 */
export async function finishTaskWithFile(
  stack: Stack,
  taskId: string,
  stdout: string,
  file: { path: string; content: string },
): Promise<void> {
  const { store } = stack.deps;
  const task = await store.get(taskId);
  assert.equal(task?.status, 'queued');
  await stack.deps.queue.remove(taskId);
  assert.ok(await store.transition(taskId, 'running', ['queued'], { startedAt: new Date().toISOString(), attempts: 1 }));
  assert.ok(await store.appendOutput(taskId, 'stdout', stdout));
  const bytes = Buffer.from(file.content);
  await stack.deps.blobs.put(taskId, bytes);
  assert.ok(
    await store.transition(taskId, 'succeeded', ['running'], {
      finishedAt: new Date().toISOString(),
      result: {
        value: null,
        stdoutTruncated: false,
        stderrTruncated: false,
        exitCode: 0,
        files: [{ path: file.path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }],
      },
    }),
  );
}
