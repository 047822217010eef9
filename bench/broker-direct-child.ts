/**
 * The baseline of the brokered-call bench: sequential HTTP POSTs (keep-alive) from a Node process
 * of its own to the bench's broker fixture or target, each shaped like a broker call, with the
 * `Authorization` header given (the target's credential). Forked once by bench/broker-calls.ts
 * and kept for the whole bench, like the stacks it is compared with: it warms up as they do and
 * then makes one series per block, between their tasks, so its figure is taken on the same
 * machine, in the same phase, with the same processes up.
 *
 * Each IPC message `{ url, authorization, series, count }` starts a series; the child answers
 * `{ done: series }` (or `{ error }`) when its last call is answered. The series is named in
 * `taskId` (body) and `X-Bench-Series` (header), by which the fixture and the target file the
 * arrivals they time.
 */
import http from 'node:http';

export interface DirectSeries {
  url: string;
  authorization: string;
  series: string;
  count: number;
}

/** One keep-alive connection per destination, kept across series (as a warm service keeps its pool). */
const agents = new Map<string, http.Agent>();

function post(s: DirectSeries, i: number): Promise<void> {
  let agent = agents.get(s.url);
  if (!agent) agents.set(s.url, (agent = new http.Agent({ keepAlive: true, maxSockets: 1 })));
  const body = JSON.stringify({ version: 'v1', taskId: s.series, attempt: 1, seq: i, name: 'bench.echo', input: { i } });
  return new Promise((resolve, reject) => {
    const req = http.request(`${s.url}/v1/broker/calls`, {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: s.authorization,
        'x-bench-series': s.series,
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.end(body);
  });
}

process.on('message', (s: DirectSeries) => {
  void (async () => {
    try {
      for (let i = 0; i < s.count; i++) await post(s, i);
      process.send?.({ done: s.series });
    } catch (err) {
      process.send?.({ error: String(err) });
    }
  })();
});
process.on('disconnect', () => {
  for (const agent of agents.values()) agent.destroy();
  process.exit(0);
});
