/** Config schemas of harness and runner: pure parsing, no Redis, nothing faked. */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { loadConfig as loadHarnessConfig } from '../../harness/config.ts';
import { dockerRequired, loadConfig as loadRunnerConfig } from '../../runner/config.ts';
import { BoolEnv } from '../../protocol/env.ts';

describe('harness config', () => {
  test('defaults are safe: loopback bind, 30 s, 64 MiB, 1 MiB output, frozen', () => {
    const c = loadHarnessConfig({});
    assert.equal(c.HOST, '127.0.0.1');
    assert.equal(c.TASK_DEFAULT_TIMEOUT_MS, 30_000);
    assert.equal(c.TASK_DEFAULT_MEMORY_MB, 64);
    assert.equal(c.TASK_OUTPUT_BYTES, 1024 * 1024);
    assert.equal(c.AIRLOCK_DEV_API_KEY, undefined);
    assert.ok(Object.isFrozen(c));
  });
  test('numbers are coerced from strings', () => {
    assert.equal(loadHarnessConfig({ PORT: '9000' }).PORT, 9000);
    assert.throws(() => loadHarnessConfig({ PORT: 'abc' }), /PORT/);
  });
  test('refine: default timeout above the cap names the variable to fix', () => {
    assert.throws(
      () => loadHarnessConfig({ TASK_DEFAULT_TIMEOUT_MS: '5000', TASK_MAX_TIMEOUT_MS: '1000' }),
      /TASK_DEFAULT_TIMEOUT_MS: must not exceed TASK_MAX_TIMEOUT_MS/,
    );
  });
  test('refine: default memory above the cap names the variable to fix', () => {
    assert.throws(
      () => loadHarnessConfig({ TASK_DEFAULT_MEMORY_MB: '256', TASK_MAX_MEMORY_MB: '128' }),
      /TASK_DEFAULT_MEMORY_MB: must not exceed TASK_MAX_MEMORY_MB/,
    );
  });
  test('refine: code limit must stay below the body limit', () => {
    assert.throws(
      () => loadHarnessConfig({ TASK_MAX_CODE_BYTES: '2048', BODY_LIMIT_BYTES: '1024' }),
      /TASK_MAX_CODE_BYTES: must be below BODY_LIMIT_BYTES/,
    );
  });
  test('a short dev API key is refused', () => {
    assert.throws(() => loadHarnessConfig({ AIRLOCK_DEV_API_KEY: 'short' }), /AIRLOCK_DEV_API_KEY/);
  });
});

describe('AIRLOCK_QUEUE_PREFIX (harness and runner)', () => {
  test("defaults to BullMQ's own prefix (existing queues stay reachable); a hash tag is accepted; ':' is refused", () => {
    for (const load of [loadHarnessConfig, loadRunnerConfig]) {
      assert.equal(load({}).AIRLOCK_QUEUE_PREFIX, 'bull');
      assert.equal(load({ AIRLOCK_QUEUE_PREFIX: '{airlock}' }).AIRLOCK_QUEUE_PREFIX, '{airlock}');
      assert.throws(() => load({ AIRLOCK_QUEUE_PREFIX: 'a:b' }), /AIRLOCK_QUEUE_PREFIX/);
    }
  });
  test('REDIS_CLUSTER_NODES: parsed to host/port; the prefix defaults to {airlock} there, and one without a hash tag is refused', () => {
    for (const load of [loadHarnessConfig, loadRunnerConfig]) {
      const c = load({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis://10.0.0.2:7001,10.0.0.3' });
      assert.deepEqual(c.REDIS_CLUSTER_NODES, [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '10.0.0.3', port: 6379 },
      ]);
      assert.equal(c.AIRLOCK_QUEUE_PREFIX, '{airlock}');
      assert.deepEqual(load({}).REDIS_CLUSTER_NODES, []);
      assert.throws(() => load({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', AIRLOCK_QUEUE_PREFIX: 'bull' }), /AIRLOCK_QUEUE_PREFIX.*hash tag/);
      assert.equal(load({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', AIRLOCK_QUEUE_PREFIX: 'q{x}' }).AIRLOCK_QUEUE_PREFIX, 'q{x}');
    }
  });
});

describe('runner config', () => {
  test('defaults', () => {
    const c = loadRunnerConfig({});
    assert.equal(c.RUNNER_LOCK_MS, 30_000);
    assert.ok(c.ISOLATE_HOSTS >= 1);
  });
  test('isolate hosts are bounded', () => {
    assert.throws(() => loadRunnerConfig({ ISOLATE_HOSTS: '0' }), /ISOLATE_HOSTS/);
  });
  test('backends: comma list (default isolate,docker); unknown or empty is refused', () => {
    assert.deepEqual(loadRunnerConfig({}).RUNNER_BACKENDS, ['isolate', 'docker']);
    assert.deepEqual(loadRunnerConfig({ RUNNER_BACKENDS: ' docker, docker ' }).RUNNER_BACKENDS, ['docker']);
    assert.throws(() => loadRunnerConfig({ RUNNER_BACKENDS: 'isolate,k8s' }), /RUNNER_BACKENDS/);
    assert.throws(() => loadRunnerConfig({ RUNNER_BACKENDS: ' , ' }), /RUNNER_BACKENDS/);
  });
  test('a missing Docker fails start-up only with REQUIRE_DOCKER, which defaults to CI', () => {
    assert.equal(dockerRequired(loadRunnerConfig({})), false);
    assert.equal(dockerRequired(loadRunnerConfig({ CI: 'true' })), true);
    assert.equal(dockerRequired(loadRunnerConfig({ CI: 'true', REQUIRE_DOCKER: '0' })), false);
    assert.equal(dockerRequired(loadRunnerConfig({ REQUIRE_DOCKER: '1' })), true);
  });
  test('container defaults: DKR-1 limits, pool of 2', () => {
    const c = loadRunnerConfig({});
    assert.equal(c.WARM_POOL_SIZE, 2);
    assert.equal(c.CONTAINER_CPUS, 1);
    assert.equal(c.CONTAINER_PIDS_LIMIT, 128);
    assert.equal(c.CONTAINER_SCRATCH_MB, 64);
    assert.equal(c.DOCKER_SOCKET, '/var/run/docker.sock');
    assert.equal(c.GRANT_STAGING_DIR, '/var/lib/airlock/staging');
    assert.equal(loadRunnerConfig({ WARM_POOL_SIZE: '0' }).WARM_POOL_SIZE, 0);
    assert.throws(() => loadRunnerConfig({ GRANT_STAGING_DIR: 'relative' }), /GRANT_STAGING_DIR/);
  });
  test('the default RUNNER_ID is the hostname plus a suffix new for every runner (two checkouts never share one)', () => {
    const a = loadRunnerConfig({}).RUNNER_ID;
    const b = loadRunnerConfig({}).RUNNER_ID;
    assert.notEqual(a, b);
    for (const id of [a, b]) assert.match(id, new RegExp(`^${hostname().replace(/\W/g, '\\$&')}-[0-9a-f]{8}$`));
    assert.equal(loadRunnerConfig({ RUNNER_ID: 'fixed' }).RUNNER_ID, 'fixed');
    assert.equal(loadRunnerConfig({}).RUNNER_GONE_AFTER_MS, 30_000);
  });
});

describe('BoolEnv', () => {
  test('"false", "0", "no", "off" and "" are false; "true", "1" are true', () => {
    for (const v of ['false', '0', 'no', 'off', '', 'FALSE']) assert.equal(BoolEnv.parse(v), false, v);
    for (const v of ['true', '1', 'yes']) assert.equal(BoolEnv.parse(v), true, v);
  });
});
