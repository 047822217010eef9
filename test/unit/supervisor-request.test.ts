/** The runner's request line to the in-container supervisor (stdin forms) and the job payload's stdin rule: pure functions, nothing faked. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobPayloadSchema, type JobPayload } from '../../protocol/job.ts';
import { buildCallResult, buildRequest, FrameReader } from '../../runner/backends/supervisor-protocol.ts';

const base: JobPayload = {
  version: 'v1',
  taskId: '00000000-0000-4000-8000-000000000000',
  tenantId: 't',
  agentId: 'a',
  runtime: 'python',
  code: 'print(1)',
  limits: { timeoutMs: 1000, cpuMs: 1000, memoryMb: 64, outputBytes: 1024 },
};
const stdinOf = (job: JobPayload): unknown => JSON.parse(buildRequest(job, 0)).stdin;

test('stdinBase64 goes on the wire as it is; stdin text as the base64 of its UTF-8 bytes; neither: no stdin', () => {
  const bytes = Buffer.from([0, 0xff, 0xfe, 0x80, 0x0a]).toString('base64');
  assert.equal(stdinOf({ ...base, stdinBase64: bytes }), bytes);
  assert.equal(stdinOf({ ...base, stdin: 'hé' }), Buffer.from('hé', 'utf8').toString('base64'));
  assert.equal(stdinOf(base), undefined);
  assert.equal(stdinOf({ ...base, stdin: '' }), '');
});

test('a job payload with both stdin forms is refused', () => {
  assert.equal(JobPayloadSchema.safeParse({ ...base, stdin: 'a', stdinBase64: 'YQ==' }).success, false);
  assert.equal(JobPayloadSchema.safeParse({ ...base, stdinBase64: 'YQ==' }).success, true);
  assert.equal(JobPayloadSchema.safeParse({ ...base, stdinBase64: 'YQ' }).success, false);
});

test('v3: the request names the declared capabilities (nothing else of them); a call is answered by one result line', () => {
  const request = JSON.parse(buildRequest({ ...base, capabilities: ['tickets.create'] }, 0)) as Record<string, unknown>;
  assert.equal(request['v'], 3);
  assert.deepEqual(request['capabilities'], ['tickets.create']);
  assert.equal('capabilities' in JSON.parse(buildRequest(base, 0)), false, 'absent when none were declared');
  const ok = buildCallResult(7, { ok: true, output: { id: 1 } });
  assert.equal(ok, '{"t":"result","id":7,"ok":true,"output":{"id":1}}\n');
  const err = buildCallResult(8, { ok: false, error: { code: 'capability_denied', message: 'no' } });
  assert.deepEqual(JSON.parse(err), { t: 'result', id: 8, ok: false, error: { code: 'capability_denied', message: 'no' } });
  assert.equal(ok.indexOf('\n'), ok.length - 1, 'one line: JSON escapes every newline of an output');
});

test('call frames from the supervisor parse; a malformed one is a protocol violation', () => {
  const block = (line: string) => {
    const payload = Buffer.from(`${line}\n`);
    const header = Buffer.alloc(8);
    header[0] = 1;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };
  const good = new FrameReader(1 << 20).push(block('{"t":"call","id":1,"name":"tickets.create","input":{"a":[1]}}'));
  assert.deepEqual(good.frames, [{ t: 'call', id: 1, name: 'tickets.create', input: { a: [1] } }]);
  assert.equal(good.violation, null);
  assert.match(new FrameReader(1 << 20).push(block('{"t":"call","id":0,"name":"x"}')).violation ?? '', /invalid frame/);
});
