/**
 * Where a task's output lives in Redis: once, as raw bytes, in one hash per task
 * (`airlock:output:{sNN}:<id>`, same slot as the record and the event stream). The event stream's
 * output events hold only a reference (`stream`, `offset`, `length`) into it; the SSE route and
 * the task view read the bytes from here (see TaskStore.readEvents and TaskStore.get).
 *
 * Layout: per stream, fixed-size chunks in fields `<stream>:<index>` and the byte count in
 * `<stream>:len`. Why chunks and not one string per stream appended with APPEND: Redis sizes
 * memory in allocator classes. A 1 MiB string costs 1.25 MiB (jemalloc's next class), one grown
 * by APPEND up to 1.75 MiB (sds keeps up to 1 MiB of slack). A chunk of CHUNK_BYTES is sized so
 * that it, with its sds header, fills a 64 KiB allocation exactly: the output costs its bytes
 * plus ~50 bytes per 64 KiB (measured by `npm run bench`, asserted by test/integration/output-storage.test.ts).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { LuaScript } from './lua-script.ts';
import { OutputStreamSchema, type OutputStream } from './task.ts';
import { encodeOutput } from './utf8.ts';

/** 64 KiB minus the 5-byte sds header (sdshdr16) and the terminating NUL: one 64 KiB allocation. */
export const CHUNK_BYTES = 65_536 - 6;

const lenField = (stream: OutputStream) => `${stream}:len`;
const chunkField = (stream: OutputStream, index: number) => `${stream}:${index}`;

/** An output event as the stream stores it: a reference to bytes in the output hash. */
export const OutputRefSchema = z.strictObject({
  type: z.literal('output'),
  stream: OutputStreamSchema,
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
});
export type OutputRef = z.infer<typeof OutputRefSchema>;

/*
 * Appends bytes to one stream of a live task and records the reference event, in one atomic
 * step; refused once the task is terminal (a cancelled task's output stays closed).
 * KEYS: task, events, output. ARGV: stream, data, expected offset ('' = wherever it ends),
 * channel, message, chunk size.
 * Returns {1, new length}; {0, -1} when the task is terminal or gone; {-1, length} when the
 * expected offset is not where the stream ends — unless this exact append is already there
 * (a command resent after a lost reply): then {1, length} and nothing is written twice.
 */
export const APPEND_OUTPUT = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], 'status')
if cur ~= 'queued' and cur ~= 'running' then return {0, -1} end
local stream = ARGV[1]
local data = ARGV[2]
local len = tonumber(redis.call('HGET', KEYS[3], stream .. ':len') or '0')
local size = tonumber(ARGV[6])
local function stored(from, to)
  local parts = {}
  for idx = math.floor(from / size), math.floor((to - 1) / size) do
    local chunk = redis.call('HGET', KEYS[3], stream .. ':' .. idx) or ''
    local lo = math.max(from - idx * size, 0) + 1
    local hi = math.min(to - idx * size, size)
    parts[#parts + 1] = string.sub(chunk, lo, hi)
  end
  return table.concat(parts)
end
if ARGV[3] ~= '' then
  local at = tonumber(ARGV[3])
  if at ~= len then
    if at + #data == len and #data > 0 and stored(at, len) == data then return {1, len} end
    return {-1, len}
  end
end
if #data == 0 then return {1, len} end
local off = len
local pos = 1
while pos <= #data do
  local idx = math.floor(off / size)
  local within = off - idx * size
  local take = math.min(size - within, #data - pos + 1)
  local piece = string.sub(data, pos, pos + take - 1)
  local field = stream .. ':' .. idx
  if within > 0 then piece = (redis.call('HGET', KEYS[3], field) or '') .. piece end
  redis.call('HSET', KEYS[3], field, piece)
  pos = pos + take
  off = off + take
end
redis.call('HSET', KEYS[3], stream .. ':len', off)
redis.call('XADD', KEYS[2], '*', 'e',
  '{"type":"output","stream":"' .. stream .. '","offset":' .. len .. ',"length":' .. #data .. '}')
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, off}
`);

/** Bytes `[from, to)` of one stream, read from the chunks that hold them (one round trip). */
export async function readOutputRange(
  redis: Redis,
  key: string,
  stream: OutputStream,
  from: number,
  to: number,
): Promise<Buffer> {
  if (to <= from) return Buffer.alloc(0);
  const first = Math.floor(from / CHUNK_BYTES);
  const last = Math.floor((to - 1) / CHUNK_BYTES);
  const fields: string[] = [];
  for (let i = first; i <= last; i++) fields.push(chunkField(stream, i));
  const chunks = await redis.hmgetBuffer(key, ...fields);
  const joined = Buffer.concat(chunks.map((c) => c ?? Buffer.alloc(0)));
  return joined.subarray(from - first * CHUNK_BYTES, to - first * CHUNK_BYTES);
}

/** The bytes of one stream from a whole output hash (HGETALL), from `base` to the end. */
export function streamBytes(hash: Record<string, Buffer>, stream: OutputStream, base = 0): Buffer {
  const len = Number(hash[lenField(stream)]?.toString() ?? 0);
  const chunks: Buffer[] = [];
  for (let i = 0; i * CHUNK_BYTES < len; i++) chunks.push(hash[chunkField(stream, i)] ?? Buffer.alloc(0));
  return Buffer.concat(chunks).subarray(base, len);
}

/** Each stream's length in an output hash (HGETALL). */
export function streamLengths(hash: Record<string, Buffer>): Record<OutputStream, number> {
  return {
    stdout: Number(hash[lenField('stdout')]?.toString() ?? 0),
    stderr: Number(hash[lenField('stderr')]?.toString() ?? 0),
  };
}

/** `stdout`, `stderr` and their encodings for a result, from the output bytes. */
export function resultOutput(stdout: Buffer, stderr: Buffer): {
  stdout: string;
  stderr: string;
  stdoutEncoding?: 'base64';
  stderrEncoding?: 'base64';
} {
  const out = encodeOutput(stdout);
  const err = encodeOutput(stderr);
  return {
    stdout: out.data,
    stderr: err.data,
    ...(out.encoding ? { stdoutEncoding: out.encoding } : {}),
    ...(err.encoding ? { stderrEncoding: err.encoding } : {}),
  };
}
