/**
 * prepareCode (runner/backends/prepare-code.ts): real esbuild and real acorn, nothing mocked; no
 * Redis and no isolates. Prepared code is evaluated with node:vm only to check what value and
 * which line numbers it produces (vm is not a sandbox and is not used as one here).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import vm from 'node:vm';
import { prepareCode } from '../../runner/backends/prepare-code.ts';
import type { Runtime } from '../../protocol/task.ts';

async function source(code: string, runtime: Runtime = 'javascript'): Promise<string> {
  const prepared = await prepareCode(runtime, code);
  assert.ok(prepared.ok, `expected ok, got ${JSON.stringify(prepared)}`);
  return prepared.source;
}

async function failure(code: string, runtime: Runtime = 'javascript'): Promise<string> {
  const prepared = await prepareCode(runtime, code);
  assert.ok(!prepared.ok, `expected a syntax error, got ${JSON.stringify(prepared)}`);
  return prepared.message;
}

/** The value the task would report: the script's completion value, awaited. */
async function valueOf(code: string, runtime: Runtime = 'javascript'): Promise<unknown> {
  const value: unknown = await vm.runInNewContext(
    await source(code, runtime),
    {},
    { filename: 'task.js' },
  );
  // Objects of the vm context have its prototypes: copy them into this realm to compare.
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}

const WRAP_START = '(async () => {';
const isWrapped = (s: string) => s.startsWith(WRAP_START) && s.endsWith('\n})()');

describe('TypeScript stripping', () => {
  test('types, interfaces, type aliases and assertions are removed', async () => {
    const s = await source(
      'interface I { a: number }\ntype T = string;\nconst x: number = 20;\nconst y = <number>1 + (x as number);\ny + 1',
      'typescript',
    );
    assert.doesNotMatch(s, /interface|type T|: number|as number|<number>/);
    assert.equal(await valueOf('const x: number = 20; (x as number) * 2 + 2', 'typescript'), 42);
  });
  test('types are not checked: a type error still runs', async () => {
    assert.equal(await valueOf("const x: number = 'a' as any; x", 'typescript'), 'a');
  });
  test('enum compiles to plain JavaScript', async () => {
    assert.equal(await valueOf('enum E { A, B }\nE.B', 'typescript'), 1);
  });
  test('an unused import is elided by TypeScript semantics; a used one is a syntax error', async () => {
    assert.equal(await source("import fs from 'fs'; 1", 'typescript'), '1;\n');
    assert.equal(
      await failure("import fs from 'fs'; fs.readFileSync('/etc/passwd')", 'typescript'),
      "SyntaxError: 'import' and 'export' may appear only with 'sourceType: module' (1:0)",
    );
  });
  test('top-level await survives stripping and is wrapped', async () => {
    const s = await source('const x: number = await Promise.resolve(3);\nx * 2', 'typescript');
    assert.ok(isWrapped(s), s);
    assert.equal(
      await valueOf('const x: number = await Promise.resolve(3);\nx * 2', 'typescript'),
      6,
    );
  });
  test('JavaScript is passed through untouched when nothing needs wrapping', async () => {
    const code = 'const a = 1 // comment\n\n\nlet b: any';
    // `let b: any` is not JavaScript: the javascript runtime does not strip types.
    assert.equal(await failure(code), 'SyntaxError: Unexpected token (4:5)');
    assert.equal(await source('const a = 1 // comment\n\n\na'), 'const a = 1 // comment\n\n\na');
  });
});

describe('syntax errors', () => {
  test('JavaScript: acorn message with line:column', async () => {
    assert.equal(await failure('let x = ;'), 'SyntaxError: Unexpected token (1:8)');
    assert.equal(await failure('1 +\n\n'), 'SyntaxError: Unexpected token (3:0)');
    assert.equal(await failure('if (true) {'), 'SyntaxError: Unexpected token (1:11)');
  });
  test('JavaScript: static import/export are refused (scripts only)', async () => {
    assert.equal(
      await failure("import fs from 'fs'"),
      "SyntaxError: 'import' and 'export' may appear only with 'sourceType: module' (1:0)",
    );
    assert.equal(
      await failure('export const a = 1'),
      "SyntaxError: 'import' and 'export' may appear only with 'sourceType: module' (1:0)",
    );
  });
  test('TypeScript: esbuild message with line:column', async () => {
    assert.equal(
      await failure('const f = (a: number): string => {', 'typescript'),
      'SyntaxError: Unexpected end of file (1:34)',
    );
    assert.match(await failure('let x: = 1', 'typescript'), /^SyntaxError: .+ \(1:\d+\)$/);
  });
  test('dynamic import() parses (it is refused later, inside the isolate)', async () => {
    assert.equal(await source("import('fs')"), "import('fs')");
  });
});

describe('top-level await and return detection', () => {
  const wrapped: [string, string][] = [
    ['await', 'await 1'],
    ['await in a nested block', 'if (true) { await 1 }'],
    ['await in a labelled block', 'label: { await 1 }'],
    ['for await', 'for await (const x of [1, 2]) {}\n5'],
    ['for await nested in a block', '{ for await (const x of []) ; }'],
    ['top-level return', 'return 5'],
    ['await in an object computed key', '({ [await 1]: 2 })'],
    [
      'await in a class computed key (regression)',
      "class A { static [await Promise.resolve('k')] = 2 }; A.k",
    ],
    ['await in a class method computed key (regression)', 'class A { [await 1]() {} }; 1'],
    ['await after an async arrow', 'const f = async () => { await 1 }; await f()'],
  ];
  for (const [name, code] of wrapped) {
    test(`wraps: ${name}`, async () => {
      assert.ok(isWrapped(await source(code)), code);
    });
  }
  const unwrapped: [string, string][] = [
    ['await inside an async function', 'async function f() { await 1 }\nf'],
    ['await inside an async arrow', 'const f = async () => { await 1 }; 1'],
    ['await inside an async method', 'const o = { async m() { await 1 } }; 1'],
    ['await inside an async class method', 'class A { async m() { await 1 } }; 1'],
    ['await inside a class field arrow', 'class A { m = async () => { await 1 } }\n1'],
    ['for await inside an async function', 'async function f() { for await (const x of []) ; }'],
    ['return inside a function', 'function f() { return 2 }\nf()'],
    ['a static block', 'class A { static { this.x = 1 } }; A.x'],
    ['a generator', 'function* g() { yield 1 }; [...g()]'],
  ];
  for (const [name, code] of unwrapped) {
    test(`does not wrap: ${name}`, async () => {
      assert.equal(await source(code), code);
    });
  }
});

describe('result value of wrapped code', () => {
  test('the last expression statement is returned', async () => {
    assert.equal(await source('await 1;\n1, 2'), '(async () => {await 1;\nreturn (1, 2);\n})()');
    assert.deepEqual(await valueOf('await 1;\n1, 2'), 2);
    assert.deepEqual(await valueOf('const x = await Promise.resolve({ a: 1 })\n;({ b: x.a })'), {
      b: 1,
    });
  });
  test('a declaration last gives no value', async () => {
    assert.equal(await source('await 1; const x = 3'), '(async () => {await 1; const x = 3\n})()');
    assert.equal(await valueOf('await 1; const x = 3'), undefined);
  });
  test('an explicit top-level return wins', async () => {
    assert.equal(await valueOf('await null\nreturn 7'), 7);
  });
  test('a trailing line comment cannot swallow the wrapper end', async () => {
    assert.equal(await source('await 1 // c'), '(async () => {return (await 1); // c\n})()');
    assert.equal(await valueOf('await 1 // c'), 1);
  });
  test('the script completion value is kept for unwrapped code', async () => {
    assert.equal(await valueOf('let a = 20; a * 2 + 2'), 42);
    assert.equal(await valueOf(''), undefined);
  });
});

describe('line numbers', () => {
  test('the wrapper adds no line before user code', async () => {
    const code = 'await null\nconst a = 2\n\n// comment\nthrow new Error("x")';
    const s = await source(code);
    assert.ok(s.startsWith(WRAP_START + 'await null\n'));
    const lines = s.split('\n');
    assert.deepEqual(lines.slice(0, 5), [
      WRAP_START + 'await null',
      'const a = 2',
      '',
      '// comment',
      'throw new Error("x")',
    ]);
  });
  test('stack frames of wrapped code point at the original line and column', async () => {
    const error = await valueOf(
      'await null\nconst a = 2\n\n// comment\n  throw new Error("x")',
    ).then(
      () => assert.fail('expected a rejection'),
      (e: Error) => e,
    );
    assert.match(String(error.stack), /task\.js:5:9/);
  });
  test('stack frames of unwrapped code point at the original line and column', async () => {
    const error = await valueOf('const a = 2\n\n  null.x').then(
      () => assert.fail('expected a throw'),
      (e: Error) => e,
    );
    assert.match(String(error.stack), /task\.js:3:8/);
  });
});
