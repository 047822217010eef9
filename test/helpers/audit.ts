/**
 * Helpers for audit tests: a fresh AUDIT_DIR and signing key, the real sealer as a child process
 * (`sealer/main.ts`, fast intervals) or in-process (`Sealer`, driven tick by tick), reading a
 * sealed log back, and conditions waited on with deadlines. Redis is real (REDIS_URL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { auditLogId, auditOrigin, type SealedEntry } from '../../protocol/audit/entry.ts';
import { LAYOUT } from '../../protocol/audit/layout.ts';
import { logLines, readHead } from '../../protocol/audit/log-dir.ts';
import { ed25519PublicKey, encodeVerifierKey } from '../../protocol/audit/note.ts';
import { Sealer, type SealerOptions } from '../../sealer/sealer.ts';
import { REDIS_URL } from './stack.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ORIGIN_PREFIX = 'airlock.test/audit';

export interface AuditFixture {
  dir: string;
  seed: Uint8Array;
  seedBase64: string;
  /** Verifier key text of a tenant's log (or the system log). */
  verifierKey(tenant?: string): string;
  logDir(tenant?: string): string;
}

export async function auditFixture(): Promise<AuditFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-audit-'));
  const seed = new Uint8Array(randomBytes(32));
  return {
    dir,
    seed,
    seedBase64: Buffer.from(seed).toString('base64'),
    verifierKey: (tenant) => encodeVerifierKey(auditOrigin(ORIGIN_PREFIX, tenant), ed25519PublicKey(seed)),
    logDir: (tenant) => path.join(dir, auditLogId(tenant)),
  };
}

/** An in-process sealer on the fixture (tests drive `tick`, `commit`, `checkpoint`). */
export function inProcessSealer(redis: Redis, fx: AuditFixture, overrides: Partial<SealerOptions> = {}): Sealer {
  return Sealer.create({
    redis,
    dir: fx.dir,
    seed: fx.seed,
    originPrefix: ORIGIN_PREFIX,
    segmentEntries: 10_000,
    readBatch: 1000,
    fsyncMs: 1000,
    checkpointMs: 10_000,
    gapGraceMs: 0,
    indexSyncMs: 60_000,
    trim: true,
    log: () => {},
    ...overrides,
  });
}

export interface SealerProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/** The real sealer process on the fixture; resolves once it published its public key. */
export async function startSealerProcess(fx: AuditFixture, env: Record<string, string> = {}): Promise<SealerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'sealer/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL,
      AUDIT_DIR: fx.dir,
      AUDIT_SIGNING_KEY: fx.seedBase64,
      AUDIT_ORIGIN_PREFIX: ORIGIN_PREFIX,
      AUDIT_POLL_MS: '20',
      AUDIT_FSYNC_MS: '50',
      AUDIT_CHECKPOINT_MS: '200',
      AUDIT_GAP_GRACE_MS: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: SealerProcess = {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  await waitFor(() => existsSync(path.join(fx.dir, LAYOUT.publicKey)) || child.exitCode !== null, 'sealer start', 20_000);
  if (child.exitCode !== null) throw new Error(`sealer exited ${child.exitCode}:\n${out}`);
  return proc;
}

/** Polls `fn` until it returns a truthy value or the deadline passes (then throws). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every entry of a sealed log, as written. */
export function sealedEntries(dir: string): SealedEntry[] {
  return [...logLines(dir)].map((l) => JSON.parse(l.text) as SealedEntry);
}

/** Waits until a log has at least `n` durably sealed entries and a checkpoint covering them. */
export async function waitSealed(logDir: string, n: number, checkpointed = true, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => {
    if (readHead(logDir).size < n) return false;
    return !checkpointed || checkpointSize(logDir) >= n;
  }, `${n} entries sealed in ${logDir}`, timeoutMs);
}

/** Tree size of a log's latest checkpoint (0 when there is none). */
export function checkpointSize(logDir: string): number {
  try {
    return Number(readFileSync(path.join(logDir, LAYOUT.checkpoint), 'utf8').split('\n')[1]);
  } catch {
    return 0;
  }
}
