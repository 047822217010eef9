/**
 * The npm scripts around docker compose run the Compose CLI this machine has (Debian 12 ships
 * only v1, `docker-compose`; `docker compose` is v2, from Docker's own packages), as found by
 * deploy/ensure-compose.sh. Real engine, real CLI; the project name is made up per run, so
 * `down` touches nothing that exists. With CI=true a missing engine is a failure; locally
 * AIRLOCK_SKIP_DOCKER=1 skips.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { dockerGate } from '../helpers/docker.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run dc:*', () => {
  test('dc:down runs whichever Compose CLI exists', async (t) => {
    const skip = await dockerGate();
    if (skip) return t.skip(skip);
    // Compose v1 reads the env files the stack names even for `down`: secrets of a temp dir.
    const secrets = await mkdtemp(path.join(tmpdir(), 'airlock-dc-'));
    try {
      const env = { ...process.env, AIRLOCK_SECRETS_DIR: secrets, COMPOSE_PROJECT_NAME: `airlock-test-${randomUUID().slice(0, 8)}` };
      assert.equal(spawnSync('bash', ['deploy/setup.sh'], { cwd: ROOT, env, stdio: 'ignore' }).status, 0);
      const res = spawnSync('npm', ['run', 'dc:down'], { cwd: ROOT, encoding: 'utf8', env, timeout: 120_000 });
      assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
      assert.doesNotMatch(res.stderr, /unknown command|is not a docker command/);
    } finally {
      await rm(secrets, { recursive: true, force: true });
    }
  });
});
