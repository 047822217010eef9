/**
 * A/B of the brokered capability call: two real stacks side by side (harness + runner, the calls
 * bench's capability and target), A from another commit, B from this working tree. Each makes
 * isolate-task calls through its own real broker in alternating blocks (the side going first
 * alternates), so the machine's drift falls on both alike. On a machine whose speed swings, a
 * change to the broker's path is judged this way, not by two runs of `npm run bench`.
 *
 *   node --no-node-snapshot --import tsx bench/ab.ts <commit> [blocks=60]
 *
 * A runs from a git worktree of <commit> made under the system temp dir (node_modules linked from
 * this checkout; removed at the end). Prints per block, then for each side the pooled p50/p99 and
 * the CPU per call of each of the stack's process roles (harness, runner, isolate hosts,
 * redis-server when local, the bench client, which holds the target), then B − A at p50, pooled
 * and as the median of the blocks.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TaskStore } from '../protocol/task-store.ts';
import { benchCredential, defineBenchCapability, gaps, isolateCode, runTask, sideOn, startTarget, type Side } from './broker-calls.ts';
import { cpuDelta, snapshotCpu } from './proc.ts';
import { claimRedisDb, releaseRedisDb, ROOT, startStack, type BenchRedis, type Stack } from './stack.ts';
import { summarize } from './stats.ts';

const WARMUP_CALLS = 2000;
const CALLS_PER_TASK = 110;
const SKIP_PER_TASK = 10;

/** A worktree of `commit` beside nothing else, sharing this checkout's node_modules. */
function worktreeOf(commit: string): { dir: string; remove: () => void } {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'airlock-ab-')), 'a');
  execFileSync('git', ['worktree', 'add', '--detach', dir, commit], { cwd: ROOT, stdio: 'ignore' });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return {
    dir,
    remove: () => {
      execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
      rmSync(path.dirname(dir), { recursive: true, force: true });
    },
  };
}

async function ab(benchRedis: BenchRedis, aRoot: string, blocks: number, log: (m: string) => void): Promise<void> {
  const credential = benchCredential();
  const target = await startTarget(credential.secret);
  const redis = new Redis(benchRedis.url, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const stacks: Stack[] = [];
  const queues: Queue[] = [];
  try {
    await defineBenchCapability(redis, target.url, credential);
    const sideOf = async (root: string): Promise<Side> => {
      const stack = await startStack(benchRedis, 1, { RUNNER_BACKENDS: 'isolate' }, {
        CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
        AIRLOCK_VAULT_KEY: credential.vaultKey,
      }, root);
      stacks.push(stack);
      return sideOn(stack, 'real', target.arrivals, redis, queues);
    };
    const sides = { A: await sideOf(aRoot), B: await sideOf(ROOT) };
    const store = new TaskStore({ redis, retentionMs: 15 * 60_000 });
    log(`warm-up: one task of ${WARMUP_CALLS} calls per side`);
    for (const side of Object.values(sides)) await runTask(store, side, 'javascript', isolateCode(WARMUP_CALLS));

    const rounds = { A: [] as number[], B: [] as number[] };
    // CPU ms per process role (the stack's own: harness, runner, isolate hosts, …), summed over blocks.
    const cpu = { A: new Map<string, number>(), B: new Map<string, number>() };
    const diffs: number[] = [];
    for (let b = 0; b < blocks; b++) {
      const order = b % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
      const p50: Partial<Record<'A' | 'B', number>> = {};
      for (const name of order) {
        const side = sides[name];
        const roles = side.stack.cpuRoles();
        const before = snapshotCpu(roles);
        const id = await runTask(store, side, 'javascript', isolateCode(CALLS_PER_TASK));
        for (const [role, ms] of Object.entries(cpuDelta(before, snapshotCpu(roles)).perRole)) cpu[name].set(role, (cpu[name].get(role) ?? 0) + ms);
        const g = gaps(target.arrivals.get(id) ?? [], SKIP_PER_TASK);
        rounds[name].push(...g);
        p50[name] = summarize(g).p50;
      }
      diffs.push((p50.B as number) - (p50.A as number));
      log(`block ${b + 1}/${blocks}: A ${(p50.A as number).toFixed(3)}  B ${(p50.B as number).toFixed(3)}  B − A ${(diffs[b] as number).toFixed(3)} ms`);
    }
    const calls = blocks * CALLS_PER_TASK;
    for (const name of ['A', 'B'] as const) {
      const s = summarize(rounds[name]);
      const perCall = [...cpu[name]].map(([role, ms]) => `${role} ${(ms / calls).toFixed(3)}`).join(', ');
      log(`${name}: round trip p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms; CPU ms per call: ${perCall}`);
    }
    const sorted = [...diffs].sort((x, y) => x - y);
    log(`B − A at p50: pooled ${(summarize(rounds.B).p50 - summarize(rounds.A).p50).toFixed(3)} ms; median of the blocks ${(sorted[Math.floor(sorted.length / 2)] as number).toFixed(3)} ms`);
  } finally {
    for (const q of queues) await q.obliterate({ force: true }).catch(() => undefined);
    await Promise.all(queues.map((q) => q.close()));
    for (const stack of stacks) await stack.stop();
    await target.close();
    redis.disconnect();
  }
}

const [commit, blocksArg] = process.argv.slice(2);
if (!commit) {
  process.stderr.write('usage: node --no-node-snapshot --import tsx bench/ab.ts <commit> [blocks=60]\n');
  process.exit(2);
}
const log = (m: string) => console.log(`[ab ${new Date().toISOString().slice(11, 19)}] ${m}`);
const tree = worktreeOf(commit);
const benchRedis = await claimRedisDb();
try {
  log(`A: ${commit} (${tree.dir}); B: this working tree (${ROOT})`);
  await ab(benchRedis, tree.dir, Number(blocksArg ?? 60), log);
} finally {
  await releaseRedisDb(benchRedis, []);
  tree.remove();
}
process.exit(0);
