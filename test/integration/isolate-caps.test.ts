/**
 * Capability calls from isolate tasks (`caps` global), end to end through the real runner: the
 * real harness app (task API through `inject`), a real in-process runner (BullMQ worker, job
 * processor, isolate host child processes, broker client) on real Redis, and a REAL HTTP server
 * on loopback playing the harness broker (test/helpers/broker-fixture.ts): it checks each call's
 * bearer token with the real `checkBrokerToken` against the real task record and answers per
 * capability name. Tasks are queued with `capabilities` the way the harness will queue them
 * (test/helpers/caps-task.ts); the harness's own broker and POST /v1/tasks `capabilities` are
 * built elsewhere.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { checkBrokerToken } from '../../protocol/broker-token.ts';
import { CapabilityErrorCodeSchema } from '../../protocol/capability.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { startBrokerFixture, type BrokerFixture } from '../helpers/broker-fixture.ts';
import { finished, queueCapsTask } from '../helpers/caps-task.ts';
import { dumpRedis } from '../helpers/redis-dump.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

/** The codes code can see (`approval_pending` is broker → runner only: the runner resends). */
const CODES = CapabilityErrorCodeSchema.options.filter((c) => c !== 'approval_pending');

let redis: Redis;
let broker: BrokerFixture;
let stack: Stack;

before(async () => {
  redis = new Redis(REDIS_URL);
  broker = await startBrokerFixture(redis);
  for (const code of CODES) {
    broker.handlers.set(`errs.${code}`, () => ({ ok: false, error: { code, message: `answered ${code}` } }));
  }
  stack = await startStack({ runnerEnv: { BROKER_URL: broker.url } });
});
after(async () => {
  await stack.close();
  await broker.close();
  redis.disconnect();
});

const callsOf = (taskId: string) => broker.calls.filter((c) => c.taskId === taskId);

describe('isolate tasks call capabilities through `caps`', () => {
  test('caps.<ns>.<name>(input) and caps.call(name, input) resolve with the output; the broker sees the attempt, its token and seq 0, 1, …', async () => {
    broker.handlers.set('tickets.create', (c) => ({ ok: true, output: { id: 42, title: (c.input as { title: string }).title } }));
    const { id } = await queueCapsTask(
      stack,
      'javascript',
      `const a = await caps.tickets.create({ title: "x" });
       const b = await caps.call("tickets.create", { title: "y" });
       const c = await caps.search.docs.find({ q: "z" });
       ({ a, b, c })`,
      ['tickets.create', 'search.docs.find'],
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.deepEqual((task['result'] as { value: unknown }).value, {
      a: { id: 42, title: 'x' },
      b: { id: 42, title: 'y' },
      c: { echo: { q: 'z' } },
    });
    const calls = callsOf(id);
    assert.deepEqual(
      calls.map((c) => [c.seq, c.name, c.attempt, c.input]),
      [
        [0, 'tickets.create', 1, { title: 'x' }],
        [1, 'tickets.create', 1, { title: 'y' }],
        [2, 'search.docs.find', 1, { q: 'z' }],
      ],
    );
    // One token for the attempt, accepted by the real check while the task ran; dead now.
    assert.equal(new Set(calls.map((c) => c.token)).size, 1);
    assert.deepEqual(await checkBrokerToken(redis, id, 1, calls[0]!.token), { ok: false, reason: 'not_live' });
  });

  test('every capability error comes back as a catchable Error with its stable code; the task goes on', async () => {
    const names = CODES.map((code) => `errs.${code}`);
    const { id } = await queueCapsTask(
      stack,
      'javascript',
      `const seen = [];
       for (const name of ${JSON.stringify(names)}) {
         try { await caps.call(name, { n: 1 }); seen.push('no error'); }
         catch (err) { seen.push({ code: err.code, name: err.name, capability: err.capability, message: err.message, isError: err instanceof Error }); }
       }
       try { await caps.errs.capability_failed({}); } catch (err) { seen.push(err.code); }
       seen`,
      names,
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const seen = (task['result'] as { value: unknown[] }).value;
    assert.deepEqual(
      seen,
      [
        ...CODES.map((code) => ({ code, name: 'CapabilityError', capability: `errs.${code}`, message: `answered ${code}`, isError: true })),
        'capability_failed',
      ],
    );
  });

  test('a call answered approval_pending is resent, the same (seq, key), until decided; the code never sees the code', async () => {
    let answers = 0;
    broker.handlers.set('waits.approval', () =>
      ++answers <= 2 ? { ok: false, error: { code: 'approval_pending', message: 'waiting for a human' } } : { ok: true, output: 'approved' },
    );
    const { id } = await queueCapsTask(stack, 'javascript', `const a = await caps.waits.approval({ n: 1 }); const b = await caps.waits.approval({ n: 2 }); [a, b]`, ['waits.approval']);
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.deepEqual((task['result'] as { value: unknown }).value, ['approved', 'approved']);
    const seen = callsOf(id);
    assert.deepEqual(seen.map((c) => c.seq), [0, 0, 0, 1], 'the first call sent three times, then the next');
    assert.equal(new Set(seen.slice(0, 3).map((c) => c.key)).size, 1, 'with the same exactly-once key');
  });

  test('only the declared capabilities appear; others are refused capability_denied without reaching the broker', async () => {
    const { id } = await queueCapsTask(
      stack,
      'javascript',
      `const out = { keys: Object.keys(caps), tickets: Object.keys(caps.tickets), payments: typeof caps.payments };
       try { await caps.call("payments.refund", { amount: 1 }); } catch (err) { out.undeclared = err.code; }
       try { await caps.call("Not a name!", {}); } catch (err) { out.invalid = err.code; }
       try { caps.tickets.delete({}); } catch (err) { out.missing = err.constructor.name; }
       out.frozen = Object.isFrozen(caps) && Object.isFrozen(caps.tickets);
       out`,
      ['tickets.create'],
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.deepEqual((task['result'] as { value: unknown }).value, {
      keys: ['call', 'tickets'],
      tickets: ['create'],
      payments: 'undefined',
      undeclared: 'capability_denied',
      invalid: 'capability_denied',
      missing: 'TypeError',
      frozen: true,
    });
    assert.deepEqual(callsOf(id), [], 'nothing was sent');
  });

  test('a task that declared nothing has only caps.call, which refuses; no broker token is made for it', async () => {
    const { id } = await queueCapsTask(
      stack,
      'javascript',
      `let code; try { await caps.call("tickets.create", {}); } catch (err) { code = err.code; }
       ({ keys: Object.keys(caps), code })`,
      [],
    );
    const task = await finished(stack, id);
    assert.deepEqual((task['result'] as { value: unknown }).value, { keys: ['call'], code: 'capability_denied' });
    assert.deepEqual(callsOf(id), []);
    assert.equal(await redis.hget(redisKeys.task(id), 'brokerTokenSha256'), null);
  });

  test('inputs that are not JSON or too large are refused capability_invalid_input in the sandbox', async () => {
    const { id } = await queueCapsTask(
      stack,
      'javascript',
      `const out = [];
       for (const input of [1n, { big: "x".repeat(1100000) }]) {
         try { await caps.tickets.create(input); out.push('sent'); } catch (err) { out.push(err.code); }
       }
       out`,
      ['tickets.create'],
    );
    const task = await finished(stack, id);
    assert.deepEqual((task['result'] as { value: unknown }).value, ['capability_invalid_input', 'capability_invalid_input']);
    assert.deepEqual(callsOf(id), []);
  });

  test('calls made at once (Promise.all) get distinct seqs, numbered in the order the code made them', async () => {
    // Answered in reverse order of arrival, so completion order differs from call order.
    broker.handlers.set('slow.echo', async (c) => {
      await new Promise((r) => setTimeout(r, 10 * (8 - c.seq)));
      return { ok: true, output: c.input };
    });
    const { id } = await queueCapsTask(
      stack,
      'javascript',
      `await Promise.all(Array.from({ length: 8 }, (_, i) => caps.slow.echo({ i })))`,
      ['slow.echo'],
    );
    const task = await finished(stack, id);
    assert.deepEqual(
      (task['result'] as { value: unknown }).value,
      Array.from({ length: 8 }, (_, i) => ({ i })),
    );
    const calls = callsOf(id);
    assert.deepEqual(
      calls.map((c) => c.seq).sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    for (const c of calls) assert.deepEqual(c.input, { i: c.seq }, 'seq follows the order of the calls');
  });

  test('an uncaught capability error fails the task runtime_error; an uncaught capability_uncertain ends it capability_uncertain', async () => {
    const failed = await queueCapsTask(stack, 'javascript', `await caps.errs.capability_failed({})`, ['errs.capability_failed']);
    const uncertain = await queueCapsTask(stack, 'javascript', `await caps.errs.capability_uncertain({ amount: 5 })`, [
      'errs.capability_uncertain',
    ]);
    const caught = await queueCapsTask(
      stack,
      'javascript',
      `try { await caps.errs.capability_uncertain({}); } catch (err) { console.log(err.code); } "handled"`,
      ['errs.capability_uncertain'],
    );
    const f = await finished(stack, failed.id);
    assert.equal(f.status, 'failed');
    assert.equal((f['error'] as { code: string }).code, 'runtime_error');
    assert.match((f['error'] as { message: string }).message, /^CapabilityError: answered capability_failed/);
    const u = await finished(stack, uncertain.id);
    assert.equal(u.status, 'failed');
    assert.equal((u['error'] as { code: string }).code, 'capability_uncertain');
    assert.match((u['error'] as { message: string }).message, /call #0 \(errs\.capability_uncertain\)/);
    const c = await finished(stack, caught.id);
    assert.equal(c.status, 'succeeded', 'the code handled it');
    assert.equal((c['result'] as { stdout: string }).stdout, 'capability_uncertain\n');
  });

  test('a broker that keeps failing (503) or refuses the token gives capability_unavailable', async () => {
    broker.handlers.set('down.op', () => ({ status: 503 }));
    broker.handlers.set('refused.op', () => ({ status: 401 }));
    const { id } = await queueCapsTask(
      stack,
      'javascript',
      `const out = [];
       for (const f of [caps.down.op, caps.refused.op]) { try { await f({}); } catch (err) { out.push(err.code); } }
       out`,
      ['down.op', 'refused.op'],
    );
    const task = await finished(stack, id);
    assert.deepEqual((task['result'] as { value: unknown }).value, ['capability_unavailable', 'capability_unavailable']);
    // 1 + 2 resends of the 503 (same seq each time), then the 401 once.
    assert.deepEqual(
      callsOf(id).map((c) => [c.seq, c.name]),
      [
        [0, 'down.op'],
        [0, 'down.op'],
        [0, 'down.op'],
        [1, 'refused.op'],
      ],
    );
  });

  test('cancelling the task aborts its call in flight', async () => {
    broker.handlers.set('slow.forever', () => 'hang');
    const { id } = await queueCapsTask(stack, 'javascript', `await caps.slow.forever({}); "unreachable"`, ['slow.forever']);
    await broker.waitFor(() => callsOf(id).length === 1, 'the call');
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers() });
    assert.equal(del.statusCode, 200, del.body);
    await broker.waitFor(() => callsOf(id)[0]!.aborted, 'the runner to abort the request', 5000);
    const task = await finished(stack, id);
    assert.equal(task.status, 'cancelled');
  });

  test('the code after an awaited call runs as long as the task\'s limits allow, and no longer', async () => {
    // Regression: the answer was once delivered with a 1 s timeout of its own, which cut the
    // code after the await off silently; the task then hung until its wall time (timed_out).
    broker.handlers.set('t.quick', () => ({ ok: true, output: 1 }));
    const long = await queueCapsTask(
      stack,
      'javascript',
      `const a = await caps.t.quick({}); const t = Date.now(); let n = 0; while (Date.now() - t < 1500) n++; ({ a, busy: Date.now() - t >= 1500 })`,
      ['t.quick'],
      { timeoutMs: 10_000, cpuMs: 10_000 },
    );
    const done = await finished(stack, long.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.deepEqual((done['result'] as { value: unknown }).value, { a: 1, busy: true });
    // The limits still hold over that code: a loop after the await ends at the CPU limit.
    const loop = await queueCapsTask(stack, 'javascript', `await caps.t.quick({}); for (;;) {}`, ['t.quick'], { timeoutMs: 10_000, cpuMs: 1_000 });
    const stopped = await finished(stack, loop.id);
    assert.equal(stopped.status, 'timed_out', JSON.stringify(stopped));
    assert.match((stopped['error'] as { message: string }).message, /CPU time exceeded 1000 ms/);
    assert.ok((stopped['usage'] as { wallMs: number }).wallMs < 5_000, 'stopped at the CPU limit, not the wall time');
  });

  test('the code an answer resumes on the host\'s own thread keeps the task\'s limits: wall time (the host stops it and lives on), output flood, deep recursion', async () => {
    // With the CPU limit equal to the wall time (as every task of the API has), an answer runs
    // the code that awaited it on the host's main thread (host.ts deliverAnswer), where the
    // host's own timers cannot fire: isolated-vm's timeout and the console's refusal stop it.
    broker.handlers.set('t.quick', () => ({ ok: true, output: 1 }));
    const hostsBefore = isolateHostPids();
    const loop = await queueCapsTask(stack, 'javascript', `await caps.t.quick({}); for (;;) {}`, ['t.quick'], { timeoutMs: 2_000, cpuMs: 2_000 });
    const looped = await finished(stack, loop.id);
    assert.equal(looped.status, 'timed_out', JSON.stringify(looped));
    assert.match((looped['error'] as { message: string }).message, /Wall time exceeded 2000 ms/);
    // Stopped by the host itself, not killed from outside (the runner's kill replaces the host).
    assert.deepEqual(isolateHostPids(), hostsBefore, 'the same isolate hosts live on');

    // A flood after an await ends output_limit at once, even when the code swallows the
    // console's error (then at its wall time, still output_limit).
    const flood = await queueCapsTask(stack, 'javascript', `await caps.t.quick({}); for (;;) console.log("x".repeat(1000))`, ['t.quick'], { timeoutMs: 20_000, cpuMs: 20_000, outputBytes: 64 * 1024 });
    const flooded = await finished(stack, flood.id);
    assert.equal(flooded.status, 'failed', JSON.stringify(flooded).slice(0, 500));
    assert.equal((flooded['error'] as { code: string }).code, 'output_limit');
    assert.ok((flooded['usage'] as { wallMs: number }).wallMs < 20_000, 'ended before its wall time');
    const swallowed = await queueCapsTask(stack, 'javascript', `await caps.t.quick({}); for (;;) { try { console.log("x".repeat(1000)); } catch {} }`, ['t.quick'], { timeoutMs: 2_000, cpuMs: 2_000, outputBytes: 64 * 1024 });
    const swallowedDone = await finished(stack, swallowed.id);
    assert.equal((swallowedDone['error'] as { code: string }).code, 'output_limit', JSON.stringify(swallowedDone).slice(0, 500));

    // Deep recursion on the host's thread is the code's own catchable RangeError.
    const deep = await queueCapsTask(
      stack,
      'javascript',
      `await caps.t.quick({}); const f = (n) => f(n + 1) + 1; let e; try { f(0); } catch (err) { e = err.constructor.name; } const b = await caps.t.quick({}); ({ e, b })`,
      ['t.quick'],
    );
    const deepDone = await finished(stack, deep.id);
    assert.equal(deepDone.status, 'succeeded', JSON.stringify(deepDone));
    assert.deepEqual((deepDone['result'] as { value: unknown }).value, { e: 'RangeError', b: 1 });
    assert.deepEqual(isolateHostPids(), hostsBefore, 'no isolate host died');
  });

  test('the broker token is nowhere the task or its isolate host can see: isolate, job payload, record, output, events, host environment', async () => {
    let during = '';
    broker.handlers.set('peek.now', async () => {
      // While the attempt runs (its token is live): all of Redis, job payload included.
      during = await dumpRedis(redis);
      return { ok: true, output: { fine: true } };
    });
    const { id } = await queueCapsTask(
      stack,
      'javascript',
      `const r = await caps.peek.now({});
       let e; try { await caps.call("peek.other", {}); } catch (err) { e = [err.message, err.stack]; }
       const seen = [];
       for (const name of Object.getOwnPropertyNames(globalThis)) { try { seen.push(name, String(globalThis[name])); } catch {} }
       console.log(JSON.stringify({ r, e, seen, caps: String(caps.peek.now), call: String(caps.call) }));
       ({ r, e })`,
      ['peek.now'],
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const token = callsOf(id)[0]?.token ?? '';
    assert.ok(token.startsWith('bt_'));
    assert.ok(during.includes(id), 'the dump covers the task');
    const everywhere = {
      during,
      after: await dumpRedis(redis),
      task: JSON.stringify(task),
      events: JSON.stringify(await stack.deps.store.readEvents(id)),
      hosts: isolateHostProcs().join('\n'),
    };
    for (const [where, text] of Object.entries(everywhere)) assert.ok(!text.includes(token), `token found in ${where}`);
    assert.ok(everywhere.hosts.length > 0, 'isolate hosts inspected');
  });
});

/** Pids of this process's isolate hosts, sorted. */
function isolateHostPids(): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('isolate-host')) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}

/** Environment and command line of this process's isolate hosts (what a host escape would see first). */
function isolateHostProcs(): string[] {
  const out: string[] = [];
  for (const pid of isolateHostPids()) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), readFileSync(`/proc/${pid}/environ`, 'utf8'));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
