/**
 * protocol/utf8.ts: where output may be cut without splitting a UTF-8 character, and how bytes
 * reach clients without loss.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { completeUtf8Length, decodeOutput, encodeOutput } from '../../protocol/utf8.ts';

describe('completeUtf8Length', () => {
  const euro = Buffer.from('€'); // e2 82 ac
  const grin = Buffer.from('😀'); // f0 9f 98 80

  test('a cut inside a character moves back to its first byte; at a boundary it stays', () => {
    const text = Buffer.concat([Buffer.from('ab'), euro, grin]); // 2 + 3 + 4 bytes
    const expected = [0, 1, 2, 2, 2, 5, 5, 5, 5, 9];
    for (let end = 0; end <= text.length; end++) {
      assert.equal(completeUtf8Length(text, end), expected[end], `end ${end}`);
    }
  });

  test('every cut of every character is at most the limit and decodes without U+FFFD', () => {
    for (const ch of ['é', '€', '😀', 'a']) {
      const bytes = Buffer.from(`x${ch}`.repeat(50));
      for (let end = 0; end <= bytes.length; end++) {
        const n = completeUtf8Length(bytes, end);
        assert.ok(n <= end && end - n <= 3, `${ch} at ${end}: ${n}`);
        assert.ok(!bytes.subarray(0, n).toString('utf8').includes('\ufffd'), `${ch} at ${end}`);
      }
    }
  });

  test('bytes that are no UTF-8 character are not held back', () => {
    assert.equal(completeUtf8Length(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80])), 5, 'stray continuations');
    assert.equal(completeUtf8Length(Buffer.from([0x41, 0xff])), 2, '0xff is never a lead byte');
    assert.equal(completeUtf8Length(Buffer.from([0x41, 0xf0])), 1, 'a lone 4-byte lead could still complete');
  });
});

describe('encodeOutput', () => {
  test('valid UTF-8 is its text; anything else is base64, both decode to the same bytes', () => {
    const text = Buffer.from('héllo €😀\u0000\u0001');
    assert.deepEqual(encodeOutput(text), { data: text.toString('utf8') });
    const binary = Buffer.from([...Array(256).keys()]);
    const encoded = encodeOutput(binary);
    assert.equal(encoded.encoding, 'base64');
    assert.deepEqual(decodeOutput(encoded.data, encoded.encoding), binary);
    // A truncated character is not UTF-8 either: base64, never U+FFFD.
    assert.equal(encodeOutput(Buffer.from('€').subarray(0, 2)).encoding, 'base64');
  });
});
