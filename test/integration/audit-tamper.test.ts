/**
 * Tamper evidence, end to end: the real sealer process (sealer/main.ts) seals a tenant's log into
 * a temp AUDIT_DIR from real Redis streams; copies of that log are then tampered with on disk and
 * checked by the real offline verifier (`scripts/audit-verify.ts` as a child process, given only
 * the public verifier key), which must name the exact broken entry. Also: a sealer killed with
 * SIGKILL mid-stream and restarted loses nothing and seals nothing twice.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, cpSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { canonicalJson } from '../../protocol/audit/canonical-json.ts';
import { GENESIS_HASH, entryContent, sealContent } from '../../protocol/audit/chain.ts';
import { signCheckpoint } from '../../protocol/audit/checkpoint.ts';
import { auditOrigin, type SealedEntry } from '../../protocol/audit/entry.ts';
import { LAYOUT, segmentName } from '../../protocol/audit/layout.ts';
import { checkpointNotes, logLines, readHead } from '../../protocol/audit/log-dir.ts';
import { ed25519Signer, parseVerifierKey } from '../../protocol/audit/note.ts';
import { AuditProducer } from '../../protocol/audit/producer.ts';
import { verifyLog } from '../../protocol/audit/verify-log.ts';
import { ORIGIN_PREFIX, ROOT, auditFixture, checkpointSize, sealedEntries, startSealerProcess, waitFor, waitSealed, type AuditFixture } from '../helpers/audit.ts';
import { REDIS_URL } from '../helpers/stack.ts';

let redis: Redis;
let fx: AuditFixture;
const tenant = `t-${randomUUID().slice(0, 12)}`;
let logDir: string;

before(async () => {
  redis = new Redis(REDIS_URL);
  fx = await auditFixture();
  logDir = fx.logDir(tenant);
  const sealer = await startSealerProcess(fx, { AUDIT_SEGMENT_ENTRIES: '10' });
  const producer = new AuditProducer({ redis });
  // Three bursts, each waited until checkpointed: checkpoints at 10, 20 and 30 entries.
  for (let burst = 0; burst < 3; burst++) {
    for (let i = burst * 10; i < burst * 10 + 10; i++) {
      await producer.append({ tenant, action: 'test.step', outcome: 'success', details: { i } });
    }
    await waitSealed(logDir, burst * 10 + 10);
  }
  assert.equal(await sealer.stop(), 0);
});
after(() => redis.disconnect());

async function copyLog(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-audit-copy-'));
  cpSync(logDir, dir, { recursive: true });
  return dir;
}

function cli(target: string, ...extra: string[]): { code: number | null; report: { ok: boolean; entries?: number; firstBroken?: { seq: number; reason: string } } } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', target, '--key', fx.verifierKey(tenant), ...extra], { cwd: ROOT, encoding: 'utf8' });
  assert.ok(res.stdout.trim().startsWith('{'), `no report: ${res.stderr}`);
  return { code: res.status, report: JSON.parse(res.stdout) };
}

const seg = (dir: string, first: number) => path.join(dir, segmentName(first));
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
const writeLines = (file: string, ls: string[]) => writeFileSync(file, ls.map((l) => `${l}\n`).join(''));

describe('tamper evidence (offline verifier on a log sealed by the real sealer)', () => {
  test('the intact log verifies with the public key alone: 30 entries, 3 checkpoints', () => {
    assert.equal(checkpointNotes(logDir).length >= 3, true);
    const { code, report } = cli(logDir);
    assert.equal(code, 0);
    assert.equal(report.ok, true);
    assert.equal(report.entries, 30);
  });

  test('a byte edited in an entry names that entry', async () => {
    const dir = await copyLog();
    const file = seg(dir, 11);
    const ls = lines(file);
    ls[4] = (ls[4] as string).replace('"i":14', '"i":41');
    writeLines(file, ls);
    const { code, report } = cli(dir);
    assert.equal(code, 1);
    assert.equal(report.firstBroken?.seq, 15);
    assert.match(report.firstBroken?.reason ?? '', /hash does not match its content/);
  });

  test('an edit that breaks the JSON names that entry', async () => {
    const dir = await copyLog();
    const file = seg(dir, 11);
    const bytes = readFileSync(file);
    bytes[bytes.indexOf('"seq":13') + 2] = 0x22; // a quote inside a key: no longer JSON
    writeFileSync(file, bytes);
    assert.equal(cli(dir).report.firstBroken?.seq, 13);
  });

  test('a deleted entry is named', async () => {
    const dir = await copyLog();
    const file = seg(dir, 11);
    writeLines(file, lines(file).filter((_, i) => i !== 4));
    const { code, report } = cli(dir);
    assert.equal(code, 1);
    assert.equal(report.firstBroken?.seq, 15);
    assert.match(report.firstBroken?.reason ?? '', /entry 15 is missing or out of place \(entry 16 follows entry 14\)/);
  });

  test('two swapped entries are named', async () => {
    const dir = await copyLog();
    const file = seg(dir, 11);
    const ls = lines(file);
    [ls[4], ls[5]] = [ls[5] as string, ls[4] as string];
    writeLines(file, ls);
    const { report } = cli(dir);
    assert.equal(report.firstBroken?.seq, 15);
    assert.match(report.firstBroken?.reason ?? '', /entry 15 is missing or out of place \(entry 16 follows entry 14\)/);
    // Swapped the other way round (seq going back): named as moved.
    const dir2 = await copyLog();
    const f2 = seg(dir2, 11);
    const l2 = lines(f2);
    l2.splice(6, 0, l2[3] as string);
    writeLines(f2, l2);
    assert.match(cli(dir2).report.firstBroken?.reason ?? '', /entry 14 appears where entry 17 belongs/);
  });

  test('a truncated segment: cut mid-entry names that entry; whole entries cut are caught by the checkpoint', async () => {
    const cutMid = await copyLog();
    const file = seg(cutMid, 21);
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('"seq":25');
    truncateSync(file, Buffer.byteLength(text.slice(0, at)));
    assert.equal(cli(cutMid).report.firstBroken?.seq, 25);

    const cutLines = await copyLog();
    const f2 = seg(cutLines, 21);
    writeLines(f2, lines(f2).slice(0, 5));
    const { code, report } = cli(cutLines);
    assert.equal(code, 1);
    assert.equal(report.firstBroken?.seq, 26);
    assert.match(report.firstBroken?.reason ?? '', /ends at entry 25 but a signed checkpoint covers 30/);
  });

  test('a whole segment replaced by a re-chained forgery passes the chain but not the signed checkpoints', async () => {
    const dir = await copyLog();
    // The forger rewrites entries 11..20 and re-chains everything after them, leaves too.
    const all: SealedEntry[] = [...logLines(dir)].map((l) => JSON.parse(l.text) as SealedEntry);
    let prev = GENESIS_HASH;
    const forged: SealedEntry[] = [];
    const leaves: Uint8Array[] = [];
    for (const e of all) {
      const content = entryContent(e);
      if (e.seq >= 11 && e.seq <= 20) content.details = { i: 1000 + e.seq };
      const sealed = sealContent(content, prev);
      forged.push(sealed.entry);
      leaves.push(sealed.leafHash);
      prev = sealed.entry.hash;
    }
    for (const first of [1, 11, 21]) writeLines(seg(dir, first), forged.filter((e) => e.seq >= first && e.seq < first + 10).map(canonicalJson));
    writeFileSync(path.join(dir, LAYOUT.leaves), Buffer.concat(leaves));
    // Without the checkpoints the forgery would pass: that is what they are for.
    const vk = parseVerifierKey(fx.verifierKey(tenant));
    assert.equal(verifyLog([...logLines(dir)].map((l) => l.text), [], { verifiers: [vk] }).ok, true);
    const { code, report } = cli(dir);
    assert.equal(code, 1);
    assert.equal(report.firstBroken?.seq, 11);
    assert.match(report.firstBroken?.reason ?? '', /entries 11\.\.20 do not match the signed checkpoint of size 20/);
    // Deleting the checkpoint history as well does not help against a checkpoint kept elsewhere.
    const pinned = path.join(dir, 'pinned-note');
    writeFileSync(pinned, readFileSync(path.join(logDir, LAYOUT.checkpoint), 'utf8'));
    writeFileSync(path.join(dir, LAYOUT.checkpoints), '');
    const withPin = cli(dir, '--checkpoint', pinned);
    assert.equal(withPin.code, 1);
    assert.equal(withPin.report.firstBroken?.seq, 1);
  });

  test('a checkpoint signed by another key is named; the log does not verify with another key', async () => {
    const dir = await copyLog();
    const origin = auditOrigin(ORIGIN_PREFIX, tenant);
    const rogue = ed25519Signer(origin, new Uint8Array(randomBytes(32)));
    const note = signCheckpoint({ origin, size: 30, rootHash: new Uint8Array(32) }, rogue);
    appendFileSync(path.join(dir, LAYOUT.checkpoints), `${JSON.stringify({ size: 30, note })}\n`);
    const { code, report } = cli(dir);
    assert.equal(code, 1);
    assert.equal(report.firstBroken?.seq, 30);
    assert.match(report.firstBroken?.reason ?? '', /checkpoint of size 30 does not verify: no signature by a known key/);

    const other = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', logDir, '--key', `${origin}+${'0'.repeat(8)}+x`], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(other.status, 2, 'a malformed key is a usage error');
    const wrongKey = ed25519Signer(origin, new Uint8Array(randomBytes(32)));
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', logDir, '--key', `${origin}+${wrongKey.keyId.toString(16).padStart(8, '0')}+${Buffer.concat([Buffer.from([1]), wrongKey.publicKey]).toString('base64')}`], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(res.status, 1);
    assert.match(res.stderr, /BROKEN at entry/);
  });
});

describe('sealer restart', () => {
  test('SIGKILL mid-stream and a restart: every entry sealed exactly once, in order, verifiable', async () => {
    const f = await auditFixture();
    const t = `t-${randomUUID().slice(0, 12)}`;
    const dir = f.logDir(t);
    const producer = new AuditProducer({ redis });
    let sealer = await startSealerProcess(f, { AUDIT_SEGMENT_ENTRIES: '50' });
    const total = 400;
    let killed = false;
    const kill = async () => {
      killed = true;
      sealer.child.kill('SIGKILL');
      await sealer.stop();
    };
    try {
      for (let i = 0; i < total; i++) {
        await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i } });
        // Killed once it has sealed 100 entries, while more keep coming. The sealer's timers (its
        // poll, the fsync interval) do not speed up with the machine, the appends do: on a fast
        // one they could end before it got that far, so at half way they wait for it.
        if (!killed && (readHead(dir).size >= 100 || i === total / 2)) {
          await waitFor(() => readHead(dir).size >= 100, 'the sealer past entry 100', 30_000);
          await kill();
        }
        if (i % 25 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(killed, 'the sealer was killed mid-stream');
    } finally {
      // A failure above must not leave the sealer running (the file would never end).
      if (!killed) await kill();
    }
    sealer = await startSealerProcess(f, { AUDIT_SEGMENT_ENTRIES: '50' });
    try {
      await waitSealed(dir, total, true, 30_000);
    } finally {
      assert.equal(await sealer.stop(), 0);
    }
    const entries = sealedEntries(dir);
    assert.equal(entries.length, total);
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: total }, (_, k) => k + 1));
    assert.deepEqual(entries.map((e) => e.details?.['i']), Array.from({ length: total }, (_, k) => k));
    const vk = parseVerifierKey(f.verifierKey(t));
    assert.deepEqual(verifyLog([...logLines(dir)].map((l) => l.text), checkpointNotes(dir), { verifiers: [vk], origin: vk.name }).ok, true);
    assert.equal(checkpointSize(dir), total);
  });
});

