/**
 * The baseline of the brokered-call bench: `count` sequential HTTP POSTs (keep-alive) from a Node
 * process of its own to the bench's broker fixture or target, each shaped like a broker call, with
 * the `Authorization` header given (the target's credential). Forked by bench/broker-calls.ts; the
 * fixture or target times their arrivals.
 */
import http from 'node:http';

const [url = '', countArg = '0', authorization = 'Bearer direct'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(i: number): Promise<void> {
  const body = JSON.stringify({ version: 'v1', taskId: 'direct', attempt: 1, seq: i, name: 'bench.echo', input: { i } });
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/broker/calls`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.end(body);
  });
}

for (let i = 0; i < Number(countArg); i++) await post(i);
agent.destroy();
process.exit(0);
