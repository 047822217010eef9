/**
 * Capability schemas (harness/capabilities/json-schema.ts): compiled once per distinct schema,
 * found again by its canonical text or by the very object (a broker call checks its input against
 * the schema of a definition parsed once and shared). Whichever way a validator is found, it must
 * be the one of *that* schema: a cache that mixed two schemas up would let invalid input through.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileSchema, schemaProblems } from '../../harness/capabilities/json-schema.ts';

const titled = () => ({ type: 'object', properties: { title: { type: 'string', maxLength: 5 } }, required: ['title'], additionalProperties: false });
const counted = () => ({ type: 'object', properties: { count: { type: 'integer', minimum: 1 } }, required: ['count'] });

function validatorOf(schema: unknown) {
  const compiled = compileSchema(schema);
  assert.ok(compiled.ok, 'the schema compiles');
  return compiled.validate;
}

test('the same schema object gives the same validator, and it checks that schema', () => {
  const schema = titled();
  const first = validatorOf(schema);
  assert.equal(validatorOf(schema), first);
  assert.deepEqual(schemaProblems(first, { title: 'abc' }), []);
  assert.notDeepEqual(schemaProblems(first, { title: 'too long a title' }), []);
  assert.notDeepEqual(schemaProblems(first, { title: 'abc', extra: 1 }), []);
});

test('an equal schema in another object is found by its text; a different one is not mixed up', () => {
  const a = validatorOf(titled());
  assert.equal(validatorOf(titled()), a, 'same canonical text, same validator');
  const b = validatorOf(counted());
  assert.notEqual(b, a);
  assert.deepEqual(schemaProblems(b, { count: 2 }), []);
  assert.notDeepEqual(schemaProblems(b, { count: 0 }), []);
  // The first schema's validator still refuses what only the second allows.
  assert.notDeepEqual(schemaProblems(a, { count: 2 }), []);
});

test('a schema that does not compile says why, every time', () => {
  const broken = { type: 'object', propertees: {} };
  for (let i = 0; i < 2; i++) {
    const compiled = compileSchema(broken);
    assert.equal(compiled.ok, false);
    assert.match(compiled.ok ? '' : compiled.problem, /propertees/);
  }
});

test('boolean schemas (not objects) still compile', () => {
  assert.deepEqual(schemaProblems(validatorOf(true), { anything: 1 }), []);
  assert.notDeepEqual(schemaProblems(validatorOf(false), null), []);
});

test('schemas are compiled each on its own: an `$id` neither collides with nor resolves to another schema', () => {
  // Two tenants may pick the same `$id` for different schemas: each gets its own validator.
  const a = validatorOf({ $id: 'https://example.test/ticket', type: 'object', properties: { t: { type: 'string' } }, required: ['t'] });
  const b = validatorOf({ $id: 'https://example.test/ticket', type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] });
  assert.deepEqual(schemaProblems(a, { t: 'x' }), []);
  assert.notDeepEqual(schemaProblems(a, { n: 1 }), []);
  assert.deepEqual(schemaProblems(b, { n: 1 }), []);
  assert.notDeepEqual(schemaProblems(b, { t: 'x' }), []);
  // A `$ref` to another schema's `$id` does not reach it: a schema is self-contained.
  const ref = compileSchema({ $ref: 'https://example.test/ticket' });
  assert.equal(ref.ok, false);
  assert.match(ref.ok ? '' : ref.problem, /can't resolve reference/);
  // A schema that refers to itself by its own `$id` still works after it left the registry.
  const tree = validatorOf({
    $id: 'https://example.test/tree',
    type: 'object',
    properties: { children: { type: 'array', items: { $ref: 'https://example.test/tree' } } },
    additionalProperties: false,
  });
  assert.deepEqual(schemaProblems(tree, { children: [{ children: [] }] }), []);
  assert.notDeepEqual(schemaProblems(tree, { children: [{ other: 1 }] }), []);
});
