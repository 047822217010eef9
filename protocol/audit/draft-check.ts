/**
 * A fast, conservative check of an audit draft: true only for drafts AuditDraftSchema accepts
 * (unit-tested against it), false for anything unusual — the caller then asks the schema, which
 * decides and words the error. Every task change stamps an entry, and the schema's generic walk
 * was most of what a stamp cost on the task path.
 */

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
const ACTION = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const ID_FIELDS = ['agentId', 'userId', 'keyId', 'jti', 'taskId', 'sessionId', 'requestId'] as const;
const DRAFT_KEYS = new Set([
  'time', 'tenant', 'action', 'outcome', 'agentId', 'userId', 'keyId', 'jti', 'taskId', 'promptSnippet',
  'sessionId', 'requestId', 'traceId', 'decision', 'details',
]);
const DECISION_KEYS = new Set(['allowed', 'policyIds', 'policySetHash', 'action', 'resource', 'errors', 'shadow']);
const VERDICT_KEYS = new Set(['allowed', 'policyIds', 'policySetHash']);

export function isPlainDraft(d: unknown): boolean {
  if (!isPlainObject(d)) return false;
  for (const k in d) {
    if (!DRAFT_KEYS.has(k) || d[k] === undefined) return false;
  }
  const { time, tenant, action, outcome, promptSnippet, traceId, decision, details } = d;
  if (typeof time !== 'string' || !TIME.test(time) || !isRealTime(time)) return false;
  if (tenant !== undefined && !(typeof tenant === 'string' && TENANT.test(tenant))) return false;
  if (!(typeof action === 'string' && action.length <= 64 && ACTION.test(action))) return false;
  if (outcome !== 'success' && outcome !== 'failure' && outcome !== 'denied') return false;
  for (const f of ID_FIELDS) {
    const v = d[f];
    if (v !== undefined && !(typeof v === 'string' && v.length >= 1 && v.length <= 200)) return false;
  }
  if (promptSnippet !== undefined && !(typeof promptSnippet === 'string' && promptSnippet.length <= 2000)) return false;
  if (traceId !== undefined && !(typeof traceId === 'string' && TRACE_ID.test(traceId))) return false;
  if (decision !== undefined && !isDecision(decision)) return false;
  if (details !== undefined) {
    if (!isPlainObject(details)) return false;
    for (const k in details) if (k.length > 100 || !isJson(details[k], 0)) return false;
  }
  return true;
}

/** The checks above count UTF-16 units, as the schema does; a date must also exist (no 2024-02-30). */
function isRealTime(time: string): boolean {
  const ms = Date.parse(time);
  return Number.isFinite(ms) && new Date(ms).toISOString() === time;
}

function isDecision(v: unknown): boolean {
  if (!isVerdict(v, DECISION_KEYS)) return false;
  const { action, resource, errors, shadow } = v as Record<string, unknown>;
  if (!(typeof action === 'string' && action.length <= 100)) return false;
  if (resource !== undefined && !(typeof resource === 'string' && resource.length <= 300)) return false;
  if (errors !== undefined && !isStringArray(errors, 20, 500)) return false;
  return shadow === undefined || isVerdict(shadow, VERDICT_KEYS);
}

function isVerdict(v: unknown, keys: ReadonlySet<string>): boolean {
  if (!isPlainObject(v)) return false;
  for (const k in v) if (!keys.has(k) || v[k] === undefined) return false;
  const { allowed, policyIds, policySetHash } = v;
  return typeof allowed === 'boolean' && isStringArray(policyIds, 100, 200) && typeof policySetHash === 'string' && policySetHash.length <= 128;
}

function isStringArray(v: unknown, maxItems: number, maxLength: number): boolean {
  if (!Array.isArray(v) || v.length > maxItems) return false;
  for (const s of v) if (!(typeof s === 'string' && s.length <= maxLength)) return false;
  return true;
}

/** JSON as JSON.stringify writes it back unchanged: plain objects and arrays, finite numbers. */
function isJson(v: unknown, depth: number): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (depth > 32) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isJson(v[i], depth + 1)) return false;
    return true;
  }
  if (!isPlainObject(v)) return false;
  for (const k in v) if (!isJson(v[k], depth + 1)) return false;
  return true;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
