/**
 * A stand-in for the harness broker, for testing the runner's side of capability calls while the
 * real broker is built elsewhere: a REAL HTTP server on loopback speaking the broker contract
 * (`POST /v1/broker/calls`, protocol/capability.ts). It checks every call's bearer token with the
 * real `checkBrokerToken` against the real task record in Redis — so a call it accepts really
 * carries the token of the attempt the record says is running — and answers per capability name
 * with what the test configured. It records every request (accepted, refused, aborted by the
 * runner), the tokens it saw (to search for them elsewhere) and each call's exactly-once key
 * (task, seq, name, SHA-256 of the canonical input), the way the real broker forms it.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { checkBrokerToken } from '../../protocol/broker-token.ts';
import { canonicalJson } from '../../protocol/audit/canonical-json.ts';
import { BrokerCallRequestSchema, type BrokerCallRequest, type BrokerCallResult } from '../../protocol/capability.ts';

export interface SeenCall extends BrokerCallRequest {
  /** taskId:seq:name:sha256(canonical input) */
  key: string;
  token: string;
  /** The runner closed the request before it was answered (cancel, timeout). */
  aborted: boolean;
  answered: boolean;
}

/** How to answer one call: a result, or `'hang'` to never answer (until the runner gives up). */
export type Answer = BrokerCallResult | 'hang' | { status: number };
export type Handler = (call: SeenCall) => Answer | Promise<Answer>;

export interface BrokerFixture {
  readonly url: string;
  /** Calls whose token checked out, in arrival order. */
  readonly calls: SeenCall[];
  /** Requests refused (bad body or token), with the reason. */
  readonly refused: { reason: string; body: unknown }[];
  /** Every bearer token presented. */
  readonly tokens: Set<string>;
  /** Answers per capability name; unknown names are answered `{ ok: true, output: { echo: input } }`. */
  readonly handlers: Map<string, Handler>;
  /** Waits until `predicate()` holds (polling), or throws after `timeoutMs`. */
  waitFor(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function callKey(call: Pick<BrokerCallRequest, 'taskId' | 'seq' | 'name' | 'input'>): string {
  const hash = createHash('sha256').update(canonicalJson(call.input ?? null)).digest('hex');
  return `${call.taskId}:${call.seq}:${call.name}:${hash}`;
}

export async function startBrokerFixture(redis: Redis, handlers: Record<string, Handler> = {}): Promise<BrokerFixture> {
  const calls: SeenCall[] = [];
  const refused: BrokerFixture['refused'] = [];
  const tokens = new Set<string>();
  const map = new Map(Object.entries(handlers));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.method !== 'POST' || req.url !== '/v1/broker/calls') return reply(404, { error: 'not found' });
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          refused.push({ reason: 'not json', body: null });
          return reply(400, { error: 'not json' });
        }
        const parsed = BrokerCallRequestSchema.safeParse(json);
        if (!parsed.success) {
          refused.push({ reason: 'schema', body: json });
          return reply(400, { error: 'schema' });
        }
        const auth = req.headers.authorization ?? '';
        const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : '';
        tokens.add(token);
        const check = await checkBrokerToken(redis, parsed.data.taskId, parsed.data.attempt, token);
        if (!check.ok) {
          refused.push({ reason: check.reason, body: json });
          return reply(401, { error: 'token refused' });
        }
        const call: SeenCall = { ...parsed.data, key: callKey(parsed.data), token, aborted: false, answered: false };
        calls.push(call);
        res.on('close', () => {
          if (!res.writableFinished) call.aborted = true;
        });
        const handler = map.get(call.name);
        const answer: Answer = handler ? await handler(call) : { ok: true, output: { echo: call.input ?? null } };
        if (answer === 'hang' || res.destroyed) return;
        call.answered = true;
        if ('status' in answer) return reply(answer.status, { error: `status ${answer.status}` });
        return reply(200, answer);
      })().catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    refused,
    tokens,
    handlers: map,
    async waitFor(predicate, what, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`broker fixture: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
