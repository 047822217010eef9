/**
 * The SSRF guard's address decisions, without a packet leaving the machine: every refused range
 * in IPv4 and IPv6, embedded IPv4 forms, the spellings the URL parser normalises (decimal,
 * octal, hex), names resolving to refused addresses (stubbed resolver: no DNS query is sent),
 * operator openings, and allowedHosts patterns.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressBytes, refusedAddress } from '../../harness/broker/outbound/address-policy.ts';
import { hostAllowed } from '../../harness/broker/outbound/host-patterns.ts';
import { parsePrivateTargets } from '../../harness/broker/outbound/private-targets.ts';
import { resolveTarget, TargetRefusedError, type Resolver } from '../../harness/broker/outbound/resolve-target.ts';

describe('refused addresses', () => {
  const refused = [
    '127.0.0.1', '127.255.255.254', '0.0.0.0', '0.1.2.3', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1',
    '169.254.169.254', '169.254.0.1', '100.64.0.1', '100.100.100.200', '224.0.0.1', '239.255.255.250', '255.255.255.255',
    '240.0.0.1', '192.0.2.1', '198.51.100.7', '203.0.113.9', '198.18.0.1', '192.0.0.8',
    '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd00:ec2::254', 'ff02::1', 'fec0::1', '2001:db8::1', '100::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:10.0.0.1', '::127.0.0.1',
    '::ffff:0:127.0.0.1', '64:ff9b::127.0.0.1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1', '2002:a9fe:a9fe::', '64:ff9b:1::1',
    // Teredo: client address 127.0.0.1 stored inverted (0x80ff:fffe).
    '2001:0:4136:e378:8000:63bf:80ff:fffe',
    '[::1]',
  ];
  for (const a of refused) {
    test(`${a} is refused`, () => assert.notEqual(refusedAddress(a), null, a));
  }
  const allowed = ['93.184.215.14', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:808:808::1', '64:ff9b::808:808'];
  for (const a of allowed) {
    test(`${a} is allowed`, () => assert.equal(refusedAddress(a), null, a));
  }
  test('not an address is refused', () => assert.equal(refusedAddress('example.com'), 'not an IP address'));
  test('IPv6 parsing', () => {
    assert.deepEqual(addressBytes('::ffff:127.0.0.1')?.slice(10), [0xff, 0xff, 127, 0, 0, 1]);
    assert.deepEqual(addressBytes('1:2:3:4:5:6:7:8'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  });
});

describe('spellings the URL parser normalises, then refused', () => {
  const spellings = [
    'http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.0.0.1/', 'http://0x7f000001/', 'http://127.1/', 'http://017700000001/',
    'http://0251.0376.0251.0376/', 'http://2852039166/', 'http://[::ffff:127.0.0.1]/', 'http://[0:0:0:0:0:ffff:7f00:1]/',
    'http://[::1]/', 'http://0/', 'http://0x0a.1/', 'http://LOCALHOST./',
  ];
  for (const s of spellings) {
    test(s, async () => {
      const url = new URL(s);
      // A stub resolver: a name (localhost.) resolves to loopback, no query is sent.
      const resolver: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
      await assert.rejects(resolveTarget(url.hostname, 80, resolver, []), TargetRefusedError);
    });
  }
});

describe('names', () => {
  const stub = (table: Record<string, string[]>): Resolver => async (name) => {
    const list = table[name];
    if (!list) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const resolver = stub({
    'metadata.google.internal': ['169.254.169.254'],
    'rebind.example': ['93.184.215.14', '10.0.0.5'],
    'v6.example': ['2606:4700::1', '::1'],
    'public.example': ['93.184.215.14'],
    'internal.example': ['10.1.2.3'],
  });

  test('a name resolving to a refused address is refused, naming it', async () => {
    await assert.rejects(resolveTarget('metadata.google.internal', 80, resolver, []), /169\.254\.169\.254, a link-local/);
  });
  test('one refused record among several refuses the name (every A/AAAA is checked)', async () => {
    await assert.rejects(resolveTarget('rebind.example', 443, resolver, []), /10\.0\.0\.5/);
    await assert.rejects(resolveTarget('v6.example', 443, resolver, []), /::1/);
  });
  test('a public name resolves to the address the connection will use', async () => {
    assert.deepEqual(await resolveTarget('public.example', 443, resolver, []), { address: '93.184.215.14', family: 4 });
  });
  test('a name that does not resolve is refused', async () => {
    await assert.rejects(resolveTarget('nope.example', 443, resolver, []), /does not resolve/);
  });
  test('operator openings: exactly that host and port', async () => {
    const opened = parsePrivateTargets(['internal.example:8443', '127.0.0.1:9000', '[::1]:9001']);
    assert.equal((await resolveTarget('internal.example', 8443, resolver, opened)).address, '10.1.2.3');
    await assert.rejects(resolveTarget('internal.example', 443, resolver, opened), TargetRefusedError);
    assert.equal((await resolveTarget('127.0.0.1', 9000, resolver, opened)).address, '127.0.0.1');
    await assert.rejects(resolveTarget('127.0.0.2', 9000, resolver, opened), TargetRefusedError);
    await assert.rejects(resolveTarget('127.0.0.1', 9001, resolver, opened), TargetRefusedError);
    assert.equal((await resolveTarget('[0:0::1]', 9001, resolver, opened)).address, '0:0::1');
    await assert.rejects(resolveTarget('::ffff:127.0.0.1', 9000, resolver, opened), TargetRefusedError);
    assert.throws(() => parsePrivateTargets(['10.0.0.1']), /host:port/);
    assert.throws(() => parsePrivateTargets(['10.0.0.1:99999']), /host:port/);
  });
});

describe('allowedHosts patterns', () => {
  const allowed = (patterns: string[], url: string) => hostAllowed(patterns, new URL(url));
  test('host, host:port, *.domain, [v6]:port', () => {
    assert.ok(allowed(['api.example.com'], 'https://api.example.com/x'));
    assert.ok(!allowed(['api.example.com'], 'https://api.example.com:8443/x'));
    assert.ok(allowed(['api.example.com:8443'], 'https://API.example.com:8443/x'));
    assert.ok(allowed(['api.example.com:*'], 'http://api.example.com:81/'));
    assert.ok(allowed(['*.example.com'], 'https://a.b.example.com/'));
    assert.ok(!allowed(['*.example.com'], 'https://example.com/'));
    assert.ok(!allowed(['*.example.com'], 'https://evilexample.com/'));
    assert.ok(!allowed(['api.example.com'], 'https://api.example.com.evil.net/'));
    assert.ok(!allowed(['example.com'], 'http://2130706433/'));
    assert.ok(allowed(['[::1]:9000'], 'http://[0::1]:9000/'));
  });
});
