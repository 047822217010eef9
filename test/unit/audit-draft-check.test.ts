/**
 * The audit draft's fast check (protocol/audit/draft-check.ts) must be sound: it may say "no" to
 * a draft the schema accepts (the schema then decides), never "yes" to one the schema refuses.
 * Typical drafts must take the fast path. Pure: no services.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isPlainDraft } from '../../protocol/audit/draft-check.ts';
import { AuditDraftSchema } from '../../protocol/audit/entry.ts';

const base = {
  time: '2026-12-05T23:20:01.123Z', tenant: 'acme', action: 'task.created', outcome: 'success', agentId: 'agt_1', userId: 'u-1', keyId: 'key_1',
  jti: 'jti-1', taskId: '0193a1b2-c3d4-7e5f-8a9b-000000000001', promptSnippet: 'Summarise the report', sessionId: 's-1', requestId: 'req-1',
  traceId: '0123456789abcdef0123456789abcdef',
  decision: { action: 'tasks.create', resource: 'Task::"x"', allowed: true, policyIds: ['p0'], policySetHash: 'h', errors: ['e'], shadow: { allowed: false, policyIds: [], policySetHash: 'h2' } },
  details: { runtime: 'javascript', limits: { timeoutMs: 30000 }, list: [1, 'two', null, true, { a: [] }] },
};

class Thing {
  x = 1;
}
let deep: unknown = 1;
for (let i = 0; i < 40; i++) deep = [deep];
const bad: unknown[] = [undefined, null, '', 'x'.repeat(201), 'x'.repeat(2001), 5, -0, Number.NaN, Number.POSITIVE_INFINITY, true, [], {}, ['a'], new Date(0), new Thing(), deep];

/** The base with one field replaced, or removed (undefined as "remove" too). */
function variants(): [string, unknown][] {
  const out: [string, unknown][] = [['base', base]];
  for (const key of Object.keys(base)) {
    const { [key]: _removed, ...rest } = base as Record<string, unknown>;
    out.push([`without ${key}`, rest]);
    for (const v of bad) out.push([`${key}=${String(v).slice(0, 20)}`, { ...base, [key]: v }]);
  }
  const times = ['2026-02-30T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-12-05T24:00:00.000Z', '2026-12-05T23:20:01Z', '2026-12-05T23:20:01.123+01:00', '2026-12-05 23:20:01.123Z', '+010000-01-01T00:00:00.000Z'];
  for (const t of times) out.push([`time ${t}`, { ...base, time: t }]);
  for (const a of ['Task.created', 'task..x', 'a'.repeat(64), 'a'.repeat(65), '1task', 'task.-x']) out.push([`action ${a}`, { ...base, action: a }]);
  for (const t of ['acme corp', 'a'.repeat(64), 'a'.repeat(65), 'é']) out.push([`tenant ${t}`, { ...base, tenant: t }]);
  out.push(['extra key', { ...base, extra: 1 }]);
  out.push(['details key of 100', { ...base, details: { ['k'.repeat(100)]: 1 } }]);
  out.push(['details key of 101', { ...base, details: { ['k'.repeat(101)]: 1 } }]);
  out.push(['details deep', { ...base, details: { d: deep } }]);
  out.push(['details NaN', { ...base, details: { n: Number.NaN } }]);
  out.push(['details undefined', { ...base, details: { u: undefined } }]);
  out.push(['details date', { ...base, details: { d: new Date(0) } }]);
  out.push(['details sparse', { ...base, details: { s: [1, , 3] } }]);
  out.push(['details null-proto', { ...base, details: Object.assign(Object.create(null) as object, { a: 1 }) }]);
  for (const [k, v] of [['allowed', 'yes'], ['policyIds', ['x'.repeat(201)]], ['policyIds', Array(101).fill('p')], ['policySetHash', 'h'.repeat(129)], ['action', 'a'.repeat(101)], ['resource', 'r'.repeat(301)], ['errors', Array(21).fill('e')], ['errors', ['e'.repeat(501)]], ['shadow', { allowed: true, policyIds: [], policySetHash: 'h', action: 'x' }], ['extra', 1]] as const) {
    out.push([`decision.${k}`, { ...base, decision: { ...base.decision, [k]: v } }]);
  }
  out.push(['not an object', 'draft']);
  out.push(['an array', [base]]);
  out.push(['class instance', Object.assign(new Thing(), base)]);
  return out;
}

describe('audit draft fast check', () => {
  test('never accepts what the schema refuses', () => {
    let fast = 0;
    for (const [name, draft] of variants()) {
      const accepted = isPlainDraft(draft);
      if (accepted) {
        fast++;
        assert.ok(AuditDraftSchema.safeParse(draft).success, `fast path accepted what the schema refuses: ${name}`);
      }
    }
    assert.ok(fast >= 15, `only ${fast} variants took the fast path`);
  });

  test('typical drafts take the fast path', () => {
    assert.equal(isPlainDraft(base), true);
    assert.equal(isPlainDraft({ time: base.time, action: 'auth.failed', outcome: 'denied', details: { ip: '127.0.0.1', route: '/v1/tasks' } }), true);
    assert.equal(isPlainDraft({ time: base.time, tenant: 'acme', taskId: 't', action: 'task.succeeded', outcome: 'success', details: { status: 'succeeded', usage: { cpuMs: 1.5, wallMs: 2 } } }), true);
  });
});
