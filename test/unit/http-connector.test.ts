/**
 * The declarative http connector builds the request the admin described, and nothing an input
 * can bend: placeholders are percent-encoded into the path (no new segment, no dot segment, no
 * query parameter, never the host), header values cannot split the request, body templates
 * keep input types.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpConnector } from '../../harness/capabilities/definition.ts';
import { buildConnectorRequest, TemplateInputError } from '../../harness/broker/connectors/http-connector.ts';

const connector: HttpConnector = {
  type: 'http',
  method: 'POST',
  url: 'https://pay.example/v1/refunds/{input.order}/items?src=a',
  query: { note: '{input.note}' },
  headers: { 'X-Order': '{input.order}' },
  body: { amount: '{input.amount}', label: 'order {input.order}', nested: ['{input.flag}'] },
};

test('placeholders are encoded into the path and query; the body keeps types', () => {
  const r = buildConnectorRequest(connector, { order: 'a/b?c=d#e', note: 'x&y=z', amount: 5, flag: true });
  assert.equal(r.url.origin, 'https://pay.example');
  assert.equal(r.url.pathname, '/v1/refunds/a%2Fb%3Fc%3Dd%23e/items');
  assert.deepEqual([...r.url.searchParams], [['src', 'a'], ['note', 'x&y=z']]);
  assert.deepEqual(JSON.parse(r.body!.toString()), { amount: 5, label: 'order a/b?c=d#e', nested: [true] });
  assert.equal(r.headers['x-order'], 'a/b?c=d#e');
});

test('dot segments, header line breaks, missing fields and objects in the URL are refused', () => {
  for (const order of ['..', '.']) {
    assert.throws(() => buildConnectorRequest(connector, { order, note: '', amount: 1, flag: 1 }), TemplateInputError, order);
  }
  // Encoded dots are not dot segments once encoded again.
  assert.equal(buildConnectorRequest(connector, { order: '%2e%2e', note: '', amount: 1, flag: 1 }).url.pathname, '/v1/refunds/%252e%252e/items');
  assert.throws(() => buildConnectorRequest(connector, { order: 'a\r\nX-Evil: 1', note: '', amount: 1, flag: 1 }), TemplateInputError);
  assert.throws(() => buildConnectorRequest(connector, { note: '', amount: 1, flag: 1 }), /no field input\.order/);
  assert.throws(() => buildConnectorRequest(connector, { order: { a: 1 }, note: '', amount: 1, flag: 1 }), /must be a string, number or boolean/);
});
