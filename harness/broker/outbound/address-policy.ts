/**
 * Which IP addresses a capability call may connect to: none that reach this machine, its
 * network or its cloud's metadata service. Refused: loopback, unspecified, private (RFC 1918,
 * IPv6 unique-local), link-local (which holds 169.254.169.254, the metadata address), CGNAT
 * (100.64/10, which holds Alibaba's 100.100.100.200), multicast, broadcast, reserved and
 * documentation ranges, and every IPv6 form that embeds an IPv4 address (IPv4-mapped and
 * -compatible, NAT64, 6to4, Teredo) when the embedded address is refused. Spellings are not
 * this module's concern: it takes an address as `net` and the WHATWG URL parser normalise it
 * (`2130706433`, `0177.0.0.1` and `0x7f.1` all become `127.0.0.1` there).
 */
import net from 'node:net';

type Range = readonly [base: readonly number[], prefix: number, why: string];

const V4: readonly Range[] = [
  [[0, 0, 0, 0], 8, 'unspecified ("this network")'],
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'carrier-grade NAT (shared address space)'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[169, 254, 0, 0], 16, 'link-local (cloud metadata)'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'IETF protocol assignments'],
  [[192, 0, 2, 0], 24, 'documentation'],
  [[192, 88, 99, 0], 24, '6to4 relay anycast'],
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'benchmarking'],
  [[198, 51, 100, 0], 24, 'documentation'],
  [[203, 0, 113, 0], 24, 'documentation'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved (and broadcast)'],
];

const V6: readonly Range[] = [
  [[0, 0, 0, 0, 0, 0, 0, 0], 128, 'unspecified'],
  [[0, 0, 0, 0, 0, 0, 0, 1], 128, 'loopback'],
  [[0x0100, 0, 0, 0], 64, 'discard-only'],
  [[0x2001, 0x0db8], 32, 'documentation'],
  [[0x3fff], 20, 'documentation'],
  [[0x64, 0xff9b, 0x0001], 48, 'local-use NAT64'],
  [[0xfc00], 7, 'unique-local (private)'],
  [[0xfe80], 10, 'link-local'],
  [[0xfec0], 10, 'site-local'],
  [[0xff00], 8, 'multicast'],
];

/** The address as bytes (4 or 16), or null when it is not an IP address. Zone ids are kept out. */
export function addressBytes(address: string): number[] | null {
  const a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (net.isIPv4(a)) return a.split('.').map(Number);
  const bare = a.split('%')[0] as string;
  if (!net.isIPv6(bare)) return null;
  let head = bare;
  let tailV4: number[] = [];
  const lastColon = bare.lastIndexOf(':');
  if (bare.slice(lastColon + 1).includes('.')) {
    tailV4 = bare.slice(lastColon + 1).split('.').map(Number);
    head = `${bare.slice(0, lastColon + 1)}${tailV4.length ? '0:0' : ''}`;
  }
  const [left = '', right] = head.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const words = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  if (words.length !== 8) return null;
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tailV4.length === 4) bytes.splice(12, 4, ...tailV4);
  return bytes;
}

function inRange(bytes: readonly number[], wordBits: 8 | 16, base: readonly number[], prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit++) {
    const unit = Math.floor(bit / wordBits);
    const shift = wordBits - 1 - (bit % wordBits);
    const value = wordBits === 8 ? (bytes[unit] ?? 0) : (((bytes[unit * 2] ?? 0) << 8) | (bytes[unit * 2 + 1] ?? 0));
    if (((value >> shift) & 1) !== (((base[unit] ?? 0) >> shift) & 1)) return false;
  }
  return true;
}

/** Why `address` may not be connected to, or null when it may. Not an IP address: refused. */
export function refusedAddress(address: string): string | null {
  const bytes = addressBytes(address);
  if (!bytes) return 'not an IP address';
  if (bytes.length === 4) {
    for (const [base, prefix, why] of V4) if (inRange(bytes, 8, base, prefix)) return why;
    return null;
  }
  for (const [base, prefix, why] of V6) if (inRange(bytes, 16, base, prefix)) return why;
  const embedded = embeddedV4(bytes);
  if (embedded) {
    const why = refusedAddress(embedded.v4.join('.'));
    if (why) return `${embedded.form} of a ${why} address`;
  }
  return null;
}

/** The IPv4 address an IPv6 address carries, and in which form. */
function embeddedV4(b: readonly number[]): { v4: number[]; form: string } | null {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), ::ffff:0:a.b.c.d (translated).
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return { v4: b.slice(12), form: 'IPv4-mapped form' };
  if (zero(0, 12)) return { v4: b.slice(12), form: 'IPv4-compatible form' };
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return { v4: b.slice(12), form: 'IPv4-translated form' };
  // 64:ff9b::/96 (NAT64 well-known prefix).
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return { v4: b.slice(12), form: 'NAT64 form' };
  // 2002:aabb:ccdd::/48 (6to4).
  if (b[0] === 0x20 && b[1] === 0x02) return { v4: b.slice(2, 6), form: '6to4 form' };
  // 2001:0000::/32 (Teredo): the client's address, inverted, in the last 4 bytes.
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return { v4: b.slice(12).map((x) => x ^ 0xff), form: 'Teredo form' };
  return null;
}
