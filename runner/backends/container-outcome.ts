/**
 * Turns the facts of one container run (container-session.ts) into the task's ExecuteResult:
 * status, stable error code, exit code, /out files, usage. Pure: unit-tested without Docker.
 *
 * Order of causes, first match wins:
 * 1. the runner stopped the container: cancelled / timeout / output_limit / disk_limit (staging
 *    guard) / protocol violation (→ internal);
 * 2. no `done` from the supervisor: the container died under it — OOMKilled → memory_limit,
 *    otherwise the code took its supervisor down (→ nonzero_exit with the container's status);
 * 3. a supervisor `error` frame: bad_request, spawn_failed (nothing ran) → runtime_error;
 *    `internal` (the supervisor could not list /out) → internal;
 * 4. the program exited 0 → succeeded, unless /out broke its caps (more bytes than `/out` holds,
 *    more files than {@link OutcomeContext.outMaxFiles}) → disk_limit. A limit the code ran into
 *    but recovered from is not an error: it exited 0;
 * 5. otherwise, by the limit signals the supervisor read after the program ended:
 *    OOM kills → memory_limit, refused forks → pids_limit, a full scratch mount → disk_limit;
 *    else nonzero_exit with the exit status (or the signal).
 */
import { createHash } from 'node:crypto';
import type { ErrorCode } from '../../protocol/errors.ts';
import type { ExecuteResult, InputFile, OutputFile } from '../../protocol/task.ts';
import { resultOutput } from '../../protocol/task-output.ts';
import type { SessionOutcome } from './container-session.ts';
import type { ExitFrame } from './supervisor-protocol.ts';

export interface OutcomeContext {
  memoryMb: number;
  pidsLimit: number;
  /** Cap on the bytes of all /out files together. */
  outMaxBytes: number;
  /** Cap on the number of /out files (the request's `outMaxFiles`). */
  outMaxFiles: number;
  /** `State` of the container after a run without `done` (inspect), if it could be read. */
  state?: { oomKilled: boolean; exitCode: number | null };
}

/** A scratch mount counts as full when less than this is left (tmpfs allocates in pages). */
export const SCRATCH_FULL_BYTES = 64 * 1024;

export function classifyOutcome(o: SessionOutcome, ctx: OutcomeContext): ExecuteResult {
  const exitCode = o.exit && o.exit.code !== null ? o.exit.code : null;
  const result: ExecuteResult['result'] = {
    value: null,
    // Text when the program wrote UTF-8, else base64 with `stdoutEncoding` (never lossy).
    ...resultOutput(o.stdout.bytes, o.stderr.bytes),
    stdoutTruncated: o.stdout.truncated,
    stderrTruncated: o.stderr.truncated,
    exitCode,
  };
  const usage: ExecuteResult['usage'] = {
    wallMs: o.wallMs,
    cpuMs: Math.round(o.exit?.cpuMs ?? o.usageAtKill?.cpuMs ?? 0),
  };
  const peak = o.exit
    ? (o.exit.cgroupPeakBytes ?? o.exit.maxRssBytes)
    : o.usageAtKill?.peakMemoryBytes;
  if (peak !== undefined) usage.peakMemoryBytes = peak;
  const fail = (
    status: ExecuteResult['status'],
    code: ErrorCode,
    message: string,
  ): ExecuteResult => ({
    status,
    result,
    error: { code, message },
    usage,
  });
  const memory = () =>
    fail('failed', 'memory_limit', `Memory limit of ${ctx.memoryMb} MiB exceeded`);

  if (o.killed) {
    const { reason, detail } = o.killed;
    if (reason === 'cancelled') return fail('cancelled', 'cancelled', detail);
    if (reason === 'timeout') return fail('timed_out', 'timeout', detail);
    if (reason === 'protocol') return fail('failed', 'internal', detail);
    return fail('failed', reason, detail);
  }
  if (!o.done) {
    if (ctx.state?.oomKilled) {
      usage.peakMemoryBytes ??= ctx.memoryMb * 1024 * 1024;
      return memory();
    }
    const status = ctx.state?.exitCode ?? null;
    return fail(
      'failed',
      'nonzero_exit',
      `The sandbox ended before the program finished${status === null ? '' : ` (container exit status ${status})`}`,
    );
  }
  if (o.error?.code === 'internal') {
    return fail('failed', 'internal', `The sandbox supervisor failed: ${o.error.message}`);
  }
  if (o.error || !o.exit) {
    return fail(
      'failed',
      'runtime_error',
      `The sandbox refused the task: ${o.error?.message ?? 'no exit status'}`,
    );
  }

  const files = collectFiles(o, ctx);
  if (files && 'code' in files) return fail('failed', files.code, files.message);
  if (files) result.files = files.listed;
  const withFiles = (r: ExecuteResult): ExecuteResult =>
    files && files.contents.length ? { ...r, fileContents: files.contents } : r;

  const e = o.exit;
  if (e.code === 0) return withFiles({ status: 'succeeded', result, usage });
  if ((e.oomKills ?? 0) > 0) return withFiles(memory());
  if ((e.pidsMaxEvents ?? 0) > 0) {
    return withFiles(fail('failed', 'pids_limit', `Process limit of ${ctx.pidsLimit} reached`));
  }
  const full = fullScratch(e);
  if (full) return withFiles(fail('failed', 'disk_limit', `Scratch space full: ${full}`));
  const how =
    e.code !== null ? `Exited with status ${e.code}` : `Killed by ${e.signal ?? 'a signal'}`;
  return withFiles(fail('failed', 'nonzero_exit', how));
}

/** The result of a task cancelled before its container was taken or made: nothing ran. */
export function cancelledBeforeStart(): ExecuteResult {
  return {
    status: 'cancelled',
    result: {
      value: null,
      stdout: '',
      stderr: '',
      stdoutTruncated: false,
      stderrTruncated: false,
      exitCode: null,
    },
    error: { code: 'cancelled', message: 'Cancelled' },
    usage: { wallMs: 0, cpuMs: 0 },
  };
}

/** The /out listing with contents, or why it cannot be handed back. */
function collectFiles(
  o: SessionOutcome,
  { outMaxBytes, outMaxFiles }: OutcomeContext,
): { listed: OutputFile[]; contents: InputFile[] } | { code: ErrorCode; message: string } | null {
  const f = o.files;
  if (!f) return null;
  // Size caps: the /out tmpfs already stops plain writes; a sparse file (st_size far above its
  // pages) or too many files are caught here. Contents are inline exactly when they fit. Never
  // a partial listing: a task whose files cannot all be handed back fails, whatever its status.
  if (f.truncated) {
    return {
      code: 'disk_limit',
      message: `More than ${outMaxFiles} files under /out (the cap is ${outMaxFiles} files); none are returned`,
    };
  }
  if (!f.inline || f.totalBytes > outMaxBytes) {
    return {
      code: 'disk_limit',
      message: `Files under /out total ${f.totalBytes} bytes, more than ${outMaxBytes}`,
    };
  }
  const listed: OutputFile[] = [];
  const contents: InputFile[] = [];
  for (const file of f.files) {
    // The listing comes from inside the sandbox: what is stored must be what is described.
    const bytes = Buffer.from(file.contentBase64 ?? '', 'base64');
    if (
      bytes.length !== file.size ||
      createHash('sha256').update(bytes).digest('hex') !== file.sha256
    ) {
      return { code: 'internal', message: `The sandbox reported /out/${file.path} inconsistently` };
    }
    listed.push({ path: file.path, size: file.size, sha256: file.sha256 });
    contents.push({ path: file.path, contentBase64: bytes.toString('base64') });
  }
  return { listed, contents };
}

function fullScratch(e: ExitFrame): string | null {
  for (const s of e.scratch ?? []) {
    if (s.sizeBytes > 0 && (s.freeBytes < SCRATCH_FULL_BYTES || s.freeInodes === 0)) {
      return `${s.path} (${Math.round(s.sizeBytes / 1024 / 1024)} MiB)`;
    }
  }
  return null;
}
