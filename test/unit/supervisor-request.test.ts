/** The runner's request line to the in-container supervisor (stdin forms) and the job payload's stdin rule: pure functions, nothing faked. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobPayloadSchema, type JobPayload } from '../../protocol/job.ts';
import { buildRequest } from '../../runner/backends/supervisor-protocol.ts';

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
