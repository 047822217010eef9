/**
 * What the security path (authentication, rate limits, scope checks) adds to a trivial isolate
 * task end to end: the same `1+1` POST-with-wait, sent alternately to the real harness and to a
 * benchmark-only harness assembled without that path (bench/harness-without-security.ts), both
 * on the same queue, Redis and runner. Alternating cancels drift between the two series.
 */
import { HttpClient } from './http.ts';
import { postOnePlusOne } from './one-plus-one.ts';
import { spawnService, stopService } from './proc.ts';
import { ROOT, freePort, harnessNodeFlags, type Stack } from './stack.ts';
import { summarize, type Summary } from './stats.ts';

export interface SecurityPathResult {
  withSecurity: Summary;
  withoutSecurity: Summary;
  /** p50 with − p50 without, ms. */
  addedP50: number;
  errors: number;
}


export async function securityPathCost(stack: Stack, warmup: number, samples: number): Promise<SecurityPathResult> {
  const port = await freePort();
  // Its own broker port: it runs the service's whole assembly, broker listener included.
  const brokerPort = await freePort();
  const bare = spawnService(
    'harness without security (bench only)',
    [...harnessNodeFlags(), '--import', 'tsx', 'bench/harness-without-security.ts'],
    { ...stack.harnessEnv, PORT: String(port), BROKER_PORT: String(brokerPort) },
    ROOT,
  );
  const bareClient = new HttpClient(`http://127.0.0.1:${port}`);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (!bare.isAlive()) throw new Error(`the bench-only harness exited:\n${bare.tail()}`);
      const up = await bareClient.request('GET', '/healthz', { timeoutMs: 1000 }).then((r) => r.status === 200, () => false);
      if (up) break;
      if (Date.now() > deadline) throw new Error(`the bench-only harness did not start:\n${bare.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const withS: number[] = [];
    const withoutS: number[] = [];
    let errors = 0;
    for (let i = 0; i < warmup + samples; i++) {
      // Alternate which goes first, so neither always follows the other.
      const order = i % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
      for (const which of order) {
        const ms = await postOnePlusOne(which === 'with' ? stack.client : bareClient, stack.apiKey);
        if (ms === null) errors++;
        else if (i >= warmup) (which === 'with' ? withS : withoutS).push(ms);
      }
    }
    const withSecurity = summarize(withS);
    const withoutSecurity = summarize(withoutS);
    return { withSecurity, withoutSecurity, addedP50: withSecurity.p50 - withoutSecurity.p50, errors };
  } finally {
    bareClient.close();
    await stopService(bare);
  }
}
