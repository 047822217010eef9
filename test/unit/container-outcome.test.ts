/**
 * Pure parts of the container backend: classification of a run's facts into status/error code,
 * and the attach-stream demultiplexer. No Docker needed; the inputs are literal frames of
 * supervisor protocol v2 (the integration tests cover the same paths on the real engine).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { classifyOutcome, type OutcomeContext } from '../../runner/backends/container-outcome.ts';
import type { SessionOutcome } from '../../runner/backends/container-session.ts';
import { FrameReader, type ExitFrame } from '../../runner/backends/supervisor-protocol.ts';

const ctx: OutcomeContext = {
  memoryMb: 256,
  pidsLimit: 128,
  outMaxBytes: 1024,
  outMaxFiles: 1000,
};
const exit = (e: Partial<ExitFrame> = {}): ExitFrame => ({
  t: 'exit',
  code: 0,
  signal: null,
  wallMs: 5,
  cpuMs: 4,
  maxRssBytes: 1000,
  cgroupPeakBytes: 2000,
  pidsMaxEvents: 0,
  oomKills: 0,
  scratch: [{ path: '/tmp', sizeBytes: 64 << 20, freeBytes: 60 << 20, freeInodes: 1000 }],
  ...e,
});
const outcome = (o: Partial<SessionOutcome> = {}): SessionOutcome => ({
  killed: null,
  done: true,
  frames: 5,
  exit: exit(),
  files: { t: 'files', files: [], totalBytes: 0, inline: true, truncated: false },
  stdout: { bytes: Buffer.from('out'), truncated: false },
  stderr: { bytes: Buffer.alloc(0), truncated: false },
  wallMs: 7,
  diagnostics: '',
  ...o,
});
const codeOf = (o: SessionOutcome, c: OutcomeContext = ctx) => {
  const r = classifyOutcome(o, c);
  return [r.status, r.error?.code ?? null];
};

describe('classifyOutcome', () => {
  test('exit 0 succeeds, with usage from the exit frame and files with their contents', () => {
    const content = Buffer.from('hello');
    const sha256 = createHash('sha256').update(content).digest('hex');
    const r = classifyOutcome(
      outcome({
        files: {
          t: 'files',
          files: [{ path: 'a', size: 5, sha256, contentBase64: content.toString('base64') }],
          totalBytes: 5,
          inline: true,
          truncated: false,
        },
      }),
      ctx,
    );
    assert.equal(r.status, 'succeeded');
    assert.equal(r.result.exitCode, 0);
    assert.deepEqual(r.usage, { wallMs: 7, cpuMs: 4, peakMemoryBytes: 2000 });
    assert.deepEqual(r.result.files, [{ path: 'a', size: 5, sha256 }]);
    assert.deepEqual(r.fileContents, [{ path: 'a', contentBase64: content.toString('base64') }]);
  });
  test('a limit the program recovered from is not an error (it exited 0)', () => {
    assert.deepEqual(codeOf(outcome({ exit: exit({ pidsMaxEvents: 3, oomKills: 1 }) })), [
      'succeeded',
      null,
    ]);
  });
  test('runner kills come first', () => {
    for (const [reason, expected] of [
      ['cancelled', ['cancelled', 'cancelled']],
      ['timeout', ['timed_out', 'timeout']],
      ['output_limit', ['failed', 'output_limit']],
      ['disk_limit', ['failed', 'disk_limit']],
      ['protocol', ['failed', 'internal']],
    ] as const) {
      assert.deepEqual(
        codeOf(outcome({ killed: { reason, detail: 'x' }, exit: exit({ code: 1 }) })),
        expected,
        reason,
      );
    }
  });
  test('non-zero exit: OOM kills, then refused forks, then a full scratch mount, else nonzero_exit', () => {
    const full = [{ path: '/tmp', sizeBytes: 64 << 20, freeBytes: 0, freeInodes: 10 }];
    assert.deepEqual(
      codeOf(
        outcome({ exit: exit({ code: null, signal: 'SIGKILL', oomKills: 1, pidsMaxEvents: 2 }) }),
      ),
      ['failed', 'memory_limit'],
    );
    assert.deepEqual(
      codeOf(outcome({ exit: exit({ code: 3, pidsMaxEvents: 2, scratch: full }) })),
      ['failed', 'pids_limit'],
    );
    assert.deepEqual(codeOf(outcome({ exit: exit({ code: 1, scratch: full }) })), [
      'failed',
      'disk_limit',
    ]);
    const r = classifyOutcome(outcome({ exit: exit({ code: 3 }) }), ctx);
    assert.deepEqual(
      [r.status, r.error?.code, r.result.exitCode, r.result.stdout],
      ['failed', 'nonzero_exit', 3, 'out'],
    );
    assert.equal(
      classifyOutcome(outcome({ exit: exit({ code: null, signal: 'SIGTERM' }) }), ctx).error
        ?.message,
      'Killed by SIGTERM',
    );
  });
  test('no done: OOMKilled container → memory_limit, otherwise nonzero_exit', () => {
    const dead = outcome({ done: false, exit: undefined, files: undefined });
    assert.deepEqual(codeOf(dead, { ...ctx, state: { oomKilled: true, exitCode: 137 } }), [
      'failed',
      'memory_limit',
    ]);
    assert.deepEqual(codeOf(dead, { ...ctx, state: { oomKilled: false, exitCode: 137 } }), [
      'failed',
      'nonzero_exit',
    ]);
  });
  test('/out over its caps → disk_limit; a listing that does not match its content → internal', () => {
    assert.deepEqual(
      codeOf(
        outcome({
          files: { t: 'files', files: [], totalBytes: 5000, inline: false, truncated: false },
        }),
      ),
      ['failed', 'disk_limit'],
    );
    const tooMany = classifyOutcome(
      outcome({ files: { t: 'files', files: [], totalBytes: 0, inline: true, truncated: true } }),
      { ...ctx, outMaxFiles: 7 },
    );
    assert.deepEqual([tooMany.status, tooMany.error?.code], ['failed', 'disk_limit']);
    assert.match(
      tooMany.error?.message ?? '',
      /More than 7 files under \/out \(the cap is 7 files\)/,
    );
    assert.equal(tooMany.fileContents, undefined);
    const lie = {
      path: 'a',
      size: 5,
      sha256: '0'.repeat(64),
      contentBase64: Buffer.from('hello').toString('base64'),
    };
    assert.deepEqual(
      codeOf(
        outcome({
          files: { t: 'files', files: [lie], totalBytes: 5, inline: true, truncated: false },
        }),
      ),
      ['failed', 'internal'],
    );
  });
  test('a supervisor error frame (nothing ran) → runtime_error', () => {
    assert.deepEqual(
      codeOf(
        outcome({
          exit: undefined,
          files: undefined,
          error: { code: 'bad_request', message: 'm' },
        }),
      ),
      ['failed', 'runtime_error'],
    );
  });
  test('a supervisor `internal` error frame after the exit (listing /out failed) → internal', () => {
    assert.deepEqual(
      codeOf(outcome({ files: undefined, error: { code: 'internal', message: 'listing failed' } })),
      ['failed', 'internal'],
    );
  });
});

/** One attach-stream block: 8-byte header + payload. */
const block = (stream: 1 | 2, payload: string) => {
  const b = Buffer.from(payload);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(b.length, 4);
  return Buffer.concat([h, b]);
};

describe('FrameReader', () => {
  test('demultiplexes and splits lines across arbitrary chunk boundaries', () => {
    const wire = Buffer.concat([
      block(1, '{"t":"start","pid":8}\n{"t":"out","s":"stdout","d":"aGk="}\n{"t":"ex'),
      block(2, 'Traceback\n'),
      block(1, 'it","code":0,"signal":null,"wallMs":1,"cpuMs":1,"maxRssBytes":1}\n{"t":"done"}\n'),
    ]);
    for (const size of [1, 3, 7, 64, wire.length]) {
      const reader = new FrameReader(1 << 20);
      const frames: string[] = [];
      let diag = '';
      for (let i = 0; i < wire.length; i += size) {
        const r = reader.push(wire.subarray(i, i + size));
        assert.equal(r.violation, null);
        frames.push(...r.frames.map((f) => f.t));
        diag += Buffer.concat(r.diagnostics).toString();
      }
      assert.deepEqual(frames, ['start', 'out', 'exit', 'done'], `chunk size ${size}`);
      assert.equal(diag, 'Traceback\n');
    }
  });
  test('protocol violations: over-long line, not JSON, unknown frame, bad header', () => {
    assert.match(
      new FrameReader(10).push(block(1, 'x'.repeat(11))).violation ?? '',
      /longer than 10/,
    );
    assert.match(new FrameReader(100).push(block(1, 'nope\n')).violation ?? '', /not JSON/);
    assert.match(
      new FrameReader(100).push(block(1, '{"t":"evil"}\n')).violation ?? '',
      /invalid frame/,
    );
    assert.match(
      new FrameReader(100).push(Buffer.from([9, 0, 0, 0, 0, 0, 0, 1, 0])).violation ?? '',
      /header/,
    );
  });
});
