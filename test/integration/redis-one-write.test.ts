/**
 * inOneWrite (protocol/redis-connection.ts): commands issued inside it reach a real Redis in one
 * write, with the same replies as without it, and the socket is never left corked. The writes are
 * counted where the socket hands them to the system (its `_write`/`_writev`, the stream
 * implementation hooks): what arrives at the other end cannot tell, since writes that arrive
 * before the reader wakes are read together.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { inOneWrite } from '../../protocol/redis-connection.ts';
import { REDIS_URL } from '../helpers/stack.ts';

let client: Redis;
/** Each write the client's socket makes: how many commands it carries. */
let writes: number[] = [];
const key = `airlock:test:one-write:${randomUUID()}`;

before(async () => {
  client = new Redis(REDIS_URL, { enableOfflineQueue: false });
  await new Promise((r) => client.once('ready', r));
  await client.hset(key, 'a', '1', 'b', '2');
  type Chunk = { chunk: Buffer | string };
  const socket = client.stream as unknown as {
    _write: (chunk: Buffer | string, ...rest: unknown[]) => void;
    _writev: (chunks: Chunk[], ...rest: unknown[]) => void;
  };
  const commandsIn = (c: Buffer | string) => String(c).match(/\*\d+\r\n\$/g)?.length ?? 0;
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (chunk, ...rest) {
    writes.push(commandsIn(chunk));
    return write.call(this, chunk, ...rest);
  };
  socket._writev = function (chunks, ...rest) {
    writes.push(chunks.reduce((n, c) => n + commandsIn(c.chunk), 0));
    return writev.call(this, chunks, ...rest);
  };
});

after(async () => {
  await client.del(key);
  client.disconnect();
});

test('commands issued inside inOneWrite reach Redis in one write, with the replies they get without it', async () => {
  const issue = () => [client.hget(key, 'a'), client.hmget(key, 'a', 'b', 'c'), client.hincrby(key, 'n', 5), client.exists(key)] as const;
  writes = [];
  const together = await Promise.all(inOneWrite(client, issue));
  assert.deepEqual(writes, [4], 'one write carries the four commands');
  assert.deepEqual(together, ['1', ['1', '2', null], 5, 1]);

  writes = [];
  const apart = await Promise.all(issue());
  assert.ok(writes.length > 1, `without it the commands leave in several writes (${JSON.stringify(writes)})`);
  assert.deepEqual(apart, ['1', ['1', '2', null], 10, 1], 'the same replies without it');
  assert.equal(client.stream.writableCorked, 0);
});

test('a throw inside inOneWrite leaves the socket uncorked and the connection usable', async () => {
  assert.throws(
    () =>
      inOneWrite(client, () => {
        void client.hget(key, 'a');
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(client.stream.writableCorked, 0);
  assert.equal(await client.hget(key, 'b'), '2');
});

test('before a client has a socket, inOneWrite only calls the function', async () => {
  const lazy = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    assert.equal(inOneWrite(lazy, () => 42), 42);
  } finally {
    lazy.disconnect();
  }
});
