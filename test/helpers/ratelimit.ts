/**
 * Helpers of the ratelimit-*.test.ts files: agents of a tenant unique to the run (some with
 * several API keys), and a strict reader of the RateLimit / RateLimit-Policy fields that parses
 * them with an RFC 9651 parser (structured-headers), so a syntax error fails the test.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { parseList, type BareItem } from 'structured-headers';
import { CONFIG_KEY_ID_PREFIX, hashApiKey } from '../../harness/auth/api-key-authenticator.ts';

export interface RunAgent {
  agentId: string;
  keys: string[];
  /** The key ids principals carry for these keys (`cfg_` + hash prefix). */
  keyIds: string[];
  headers(keyIndex?: number): Record<string, string>;
}

/** Writes an agents file of one fresh tenant; `agents` maps agent id → number of API keys. */
export async function rateLimitAgents(agents: Record<string, number>): Promise<{
  tenantId: string;
  file: string;
  agents: Record<string, RunAgent>;
}> {
  const tenantId = `rl-${randomUUID().slice(0, 8)}`;
  const out: Record<string, RunAgent> = {};
  for (const [agentId, n] of Object.entries(agents)) {
    const keys = Array.from({ length: n }, () => `key-${agentId}-${randomUUID()}`);
    out[agentId] = {
      agentId,
      keys,
      keyIds: keys.map((k) => `${CONFIG_KEY_ID_PREFIX}${hashApiKey(k).slice(0, 16)}`),
      headers: (i = 0) => ({ authorization: `Bearer ${keys[i]}` }),
    };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-rl-'));
  const file = path.join(dir, 'agents.json');
  await writeFile(
    file,
    JSON.stringify({
      agents: Object.values(out).map((a) => ({ tenantId, agentId: a.agentId, keySha256: a.keys.map(hashApiKey) })),
    }),
  );
  return { tenantId, file, agents: out };
}

export interface ParsedPolicy {
  q: number;
  w?: number;
  qu?: string;
  pk: Uint8Array;
}
export interface ParsedLimit {
  r: number;
  t?: number;
  pk: Uint8Array;
}

function header(res: LightMyRequestResponse, name: string): string {
  const value = res.headers[name];
  assert.equal(typeof value, 'string', `${name} header missing or repeated (status ${res.statusCode})`);
  return value as string;
}

function params(p: Map<string, BareItem>, allowed: readonly string[]): Record<string, BareItem> {
  for (const k of p.keys()) assert.ok(allowed.includes(k), `unexpected parameter ${k}`);
  return Object.fromEntries(p);
}

function bytes(v: BareItem | undefined): Uint8Array {
  assert.ok(v instanceof ArrayBuffer, 'pk must be a Byte Sequence');
  return new Uint8Array(v);
}

function int(v: BareItem | undefined, name: string): number {
  assert.ok(typeof v === 'number' && Number.isInteger(v) && v >= 0, `${name} must be a non-negative Integer`);
  return v;
}

/** `RateLimit-Policy` as a map of policy name → params; throws on any syntax or type error. */
export function policies(res: LightMyRequestResponse): Map<string, ParsedPolicy> {
  const out = new Map<string, ParsedPolicy>();
  for (const member of parseList(header(res, 'ratelimit-policy'))) {
    const [value, p] = member;
    assert.equal(typeof value, 'string', 'policy name must be an sf-string');
    const o = params(p, ['q', 'qu', 'w', 'pk']);
    const parsed: ParsedPolicy = { q: int(o['q'], 'q'), pk: bytes(o['pk']) };
    if (o['w'] !== undefined) parsed.w = int(o['w'], 'w');
    if (o['qu'] !== undefined) {
      assert.equal(typeof o['qu'], 'string', 'qu must be an sf-string');
      parsed.qu = o['qu'] as string;
    }
    out.set(value as string, parsed);
  }
  return out;
}

/** `RateLimit` as a map of policy name → params; throws on any syntax or type error. */
export function limits(res: LightMyRequestResponse): Map<string, ParsedLimit> {
  const out = new Map<string, ParsedLimit>();
  for (const member of parseList(header(res, 'ratelimit'))) {
    const [value, p] = member;
    assert.equal(typeof value, 'string', 'policy name must be an sf-string');
    const o = params(p, ['r', 't', 'pk']);
    const parsed: ParsedLimit = { r: int(o['r'], 'r'), pk: bytes(o['pk']) };
    if (o['t'] !== undefined) parsed.t = int(o['t'], 't');
    out.set(value as string, parsed);
  }
  return out;
}

/**
 * Asserts a 429 quota-exceeded answer (RL-4..6) whose violated policies include `expected`;
 * returns the violated policies.
 */
export function assertThrottled(res: LightMyRequestResponse, expected: string[]): string[] {
  assert.equal(res.statusCode, 429, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as Record<string, unknown>;
  assert.equal(body['type'], 'https://iana.org/assignments/http-problem-types#quota-exceeded');
  assert.equal(body['code'], 'quota_exceeded');
  assert.equal(body['status'], 429);
  const violated = body['violated-policies'] as string[];
  assert.ok(Array.isArray(violated));
  for (const name of expected) assert.ok(violated.includes(name), `${name} not in ${JSON.stringify(violated)}`);
  // Retry-After: delay-seconds (RL-6), never before the end of a violated window (RL-5).
  const retryAfter = header(res, 'retry-after');
  assert.match(retryAfter, /^\d+$/);
  const rl = limits(res);
  const pol = policies(res);
  for (const name of violated) {
    assert.ok(pol.has(name), `violated policy ${name} not in RateLimit-Policy`);
    const state = rl.get(name);
    assert.ok(state, `violated policy ${name} not in RateLimit`);
    assert.equal(state.r, 0);
    if (state.t !== undefined) assert.ok(Number(retryAfter) >= state.t, `Retry-After ${retryAfter} < t ${state.t}`);
  }
  return violated;
}
