/**
 * The runner's side of the in-sandbox supervisor protocol v3 (images/README.md): the request
 * line, the frames that come back (program output, capability calls, exit, files), the result
 * lines that answer calls, and the demultiplexer for Docker's attach stream.
 *
 * The frames are written by the supervisor, which the program cannot reach (another uid, not
 * dumpable, another session; images/supervisor/supervisor.py). They still come from inside the
 * sandbox, so they are schema-checked, lines are length-capped and a malformed stream is a
 * protocol violation the caller ends the run for — never something that can make the runner
 * buffer without bound or throw. The caps are sized so that nothing a program can put in /out
 * makes an honest supervisor break them.
 */
import { z } from 'zod';
import type { JobPayload } from '../../protocol/job.ts';
import { RelativePathSchema } from '../../protocol/task.ts';
import type { CallResult } from './types.ts';

/** Runtimes that run in a container image with the supervisor. */
export const CONTAINER_RUNTIMES = ['python', 'node', 'bash'] as const;
export type ContainerRuntime = (typeof CONTAINER_RUNTIMES)[number];

export function isContainerRuntime(runtime: string): runtime is ContainerRuntime {
  return (CONTAINER_RUNTIMES as readonly string[]).includes(runtime);
}

/**
 * Version of the supervisor protocol, and the stable tag of the images that speak it
 * (`airlock-sandbox-<runtime>:v3`, images/build.sh). v3: capability calls (`call` frames,
 * `result` lines on stdin, the clients' socket); v2: the supervisor starts as root and separates
 * itself from the program (v1 images ran both as 10001).
 */
export const PROTOCOL_VERSION = 3;
export const SANDBOX_IMAGE_TAG = `v${PROTOCOL_VERSION}`;

/** Files listed from /out at most; one more and the task fails `disk_limit` (docs/errors.md). */
export const OUT_MAX_FILES = 1000;

/**
 * Longest frame line the supervisor can honestly write for a task with these caps: the files
 * frame, all /out contents inline as base64, plus per file its JSON entry (a path of at most
 * 1024 UTF-16 units, each at most 6 bytes as a JSON `\uXXXX` escape; size; sha256).
 */
export function maxFrameBytes(outMaxBytes: number, outMaxFiles: number = OUT_MAX_FILES): number {
  const entryBytes = 1024 * 6 + 256;
  return Math.ceil(outMaxBytes / 3) * 4 + outMaxFiles * entryBytes + 64 * 1024;
}

/**
 * The request line (with its newline) for one task. The wire wants stdin as base64: the job's
 * `stdinBase64` goes as it is (bytes, never re-encoded), its text `stdin` as its UTF-8 bytes.
 */
export function buildRequest(job: JobPayload, outInlineMaxBytes: number): string {
  const stdin =
    job.stdinBase64 ?? (job.stdin !== undefined ? Buffer.from(job.stdin, 'utf8').toString('base64') : undefined);
  const request = {
    v: PROTOCOL_VERSION,
    runtime: job.runtime,
    code: job.code,
    ...(job.args?.length ? { args: job.args } : {}),
    ...(stdin !== undefined ? { stdin } : {}),
    ...(job.files?.length ? { files: job.files } : {}),
    outInlineMaxBytes,
    outMaxFiles: OUT_MAX_FILES,
    ...(job.capabilities?.length ? { capabilities: job.capabilities } : {}),
  };
  return `${JSON.stringify(request)}\n`;
}

/** The line (with its newline) that answers the supervisor's `call` frame `id`. */
export function buildCallResult(id: number, result: CallResult): string {
  return `${JSON.stringify({ t: 'result', id, ...result })}\n`;
}

const ScratchSchema = z.object({
  path: z.string(),
  sizeBytes: z.number().nonnegative(),
  freeBytes: z.number().nonnegative(),
  freeInodes: z.number().nonnegative(),
});

export const ExitFrameSchema = z.object({
  t: z.literal('exit'),
  code: z.number().int().nullable(),
  signal: z.string().max(32).nullable(),
  wallMs: z.number().nonnegative(),
  cpuMs: z.number().nonnegative(),
  maxRssBytes: z.number().int().nonnegative(),
  cgroupPeakBytes: z.number().int().nonnegative().optional(),
  pidsMaxEvents: z.number().int().nonnegative().optional(),
  oomKills: z.number().int().nonnegative().optional(),
  scratch: z.array(ScratchSchema).max(8).optional(),
});
export type ExitFrame = z.infer<typeof ExitFrameSchema>;

export const FilesFrameSchema = z.object({
  t: z.literal('files'),
  files: z.array(
    z.object({
      path: RelativePathSchema,
      size: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      contentBase64: z.string().optional(),
    }),
  ),
  totalBytes: z.number().nonnegative(),
  inline: z.boolean(),
  truncated: z.boolean(),
});
export type FilesFrame = z.infer<typeof FilesFrameSchema>;

export const FrameSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('start'), pid: z.number() }),
  z.object({ t: z.literal('out'), s: z.enum(['stdout', 'stderr']), d: z.base64() }),
  ExitFrameSchema,
  FilesFrameSchema,
  z.object({ t: z.literal('error'), code: z.string().max(64), message: z.string().max(4096) }),
  /** A capability call of the program, relayed from the sandbox's socket; `id` is the supervisor's. */
  z.object({ t: z.literal('call'), id: z.number().int().positive(), name: z.string().min(1).max(128), input: z.unknown() }),
  z.object({ t: z.literal('done') }),
]);
export type Frame = z.infer<typeof FrameSchema>;

/** What a chunk of the attach stream yielded. */
export interface Demuxed {
  frames: Frame[];
  /** Bytes the supervisor wrote to its stderr (diagnostics only, never program output). */
  diagnostics: Buffer[];
  /** Set once the stream broke the protocol; the reader then yields nothing more. */
  violation: string | null;
}

const HEADER_BYTES = 8;

/**
 * Demultiplexes Docker's attach stream (8-byte headers: stream type, 3 zero bytes, big-endian
 * payload length; no TTY) and splits the supervisor's stdout into JSON-line frames.
 * Chunks are kept as a list and joined only when a line is complete, so a large `files` frame
 * arriving in thousands of pieces costs linear, not quadratic, copying.
 */
export class FrameReader {
  readonly #maxLineBytes: number;
  #header = Buffer.alloc(0);
  #remaining = 0; // payload bytes still due for the current block
  #blockStream = 0;
  #line: Buffer[] = [];
  #lineBytes = 0;
  #violation: string | null = null;

  /** @param maxLineBytes longest frame line accepted (the files frame with inline content). */
  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer): Demuxed {
    const out: Demuxed = { frames: [], diagnostics: [], violation: null };
    let at = 0;
    while (at < chunk.length && !this.#violation) {
      if (this.#remaining === 0) {
        const need = HEADER_BYTES - this.#header.length;
        this.#header = Buffer.concat([this.#header, chunk.subarray(at, at + need)]);
        at += Math.min(need, chunk.length - at);
        if (this.#header.length < HEADER_BYTES) break;
        this.#blockStream = this.#header[0] ?? 0;
        this.#remaining = this.#header.readUInt32BE(4);
        this.#header = Buffer.alloc(0);
        if (this.#blockStream !== 1 && this.#blockStream !== 2)
          this.#violation = 'bad stream header';
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - at);
      const payload = chunk.subarray(at, at + take);
      at += take;
      this.#remaining -= take;
      if (this.#blockStream === 2) out.diagnostics.push(payload);
      else this.#lines(payload, out);
    }
    out.violation = this.#violation;
    return out;
  }

  #lines(payload: Buffer, out: Demuxed): void {
    let start = 0;
    for (;;) {
      const nl = payload.indexOf(0x0a, start);
      const piece = payload.subarray(start, nl === -1 ? payload.length : nl);
      this.#lineBytes += piece.length;
      if (this.#lineBytes > this.#maxLineBytes) {
        this.#violation = `frame longer than ${this.#maxLineBytes} bytes`;
        return;
      }
      if (piece.length) this.#line.push(piece);
      if (nl === -1) return;
      const text = Buffer.concat(this.#line).toString('utf8');
      this.#line = [];
      this.#lineBytes = 0;
      start = nl + 1;
      if (text.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        this.#violation = 'frame is not JSON';
        return;
      }
      const frame = FrameSchema.safeParse(json);
      if (!frame.success) {
        this.#violation = `invalid frame: ${frame.error.issues[0]?.message ?? 'schema'}`;
        return;
      }
      out.frames.push(frame.data);
    }
  }
}
