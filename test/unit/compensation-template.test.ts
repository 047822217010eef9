/**
 * The compensation input template (harness/rollback/compensation-template.ts), pure: its syntax
 * check (what PUT /v1/admin/capabilities refuses) and its rendering from a call's input and
 * output. Nothing is faked; no Redis.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompensationTemplateError, renderCompensationInput, templateProblems } from '../../harness/rollback/compensation-template.ts';

const call = { input: { order: 'A-17', amount: 250, nested: { tag: 'x' } }, output: { id: 42, refund: { id: 're_1' }, ok: true } };

test('a whole-string placeholder keeps the type; others are interpolated as text; non-strings are kept', () => {
  assert.deepEqual(
    renderCompensationInput(
      { refundId: '{output.refund.id}', n: '{output.id}', ok: '{output.ok}', note: 'undo {input.order} ({input.amount})', fixed: 7, list: ['{input.nested.tag}', null], all: '{input}' },
      call,
    ),
    { refundId: 're_1', n: 42, ok: true, note: 'undo A-17 (250)', fixed: 7, list: ['x', null], all: call.input },
  );
  assert.deepEqual(renderCompensationInput(undefined, call), {}, 'no template: {}');
});

test('a value the call does not have, or an object put into text, is an error naming it', () => {
  assert.throws(() => renderCompensationInput({ id: '{output.missing}' }, call), (e: Error) => e instanceof CompensationTemplateError && /output\.missing/.test(e.message));
  assert.throws(() => renderCompensationInput({ id: 'x {input.nested}' }, call), CompensationTemplateError);
  assert.throws(() => renderCompensationInput({ id: '{output.id.deeper}' }, call), CompensationTemplateError);
  // Prototype members are not fields.
  assert.throws(() => renderCompensationInput({ id: '{input.constructor}' }, call), CompensationTemplateError);
});

test('syntax: only {input…}/{output…} placeholders, closed, with the pointer of each problem', () => {
  assert.deepEqual(templateProblems({ a: '{output.id}', b: 'x {input.a_1.b} y', c: [1, '{input}'] }), []);
  assert.deepEqual(templateProblems(undefined), []);
  const cases: [unknown, string][] = [
    [{ a: '{result.id}' }, '/a'],
    [{ a: '{output.id' }, '/a'],
    [{ a: 'x } y' }, '/a'],
    [{ a: '{input.}' }, '/a'],
    [{ a: '{ input.a }' }, '/a'],
    [{ 'a/b': ['ok', '{output.1x}'] }, '/a~1b/1'],
  ];
  for (const [template, pointer] of cases) {
    const problems = templateProblems(template as never);
    assert.equal(problems.length > 0, true, JSON.stringify(template));
    assert.equal(problems[0]!.pointer, pointer, JSON.stringify(template));
  }
  assert.match(templateProblems({ a: 'x'.repeat(20_000) })[0]!.detail, /larger than/);
});
