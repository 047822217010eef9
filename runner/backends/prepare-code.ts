import { parse, type Node, type Program } from 'acorn';
import { transform } from 'esbuild';
import type { Runtime } from '../../protocol/task.ts';

export type PreparedCode =
  | { ok: true; source: string }
  | { ok: false; message: string };

/**
 * Turns submitted code into the script the isolate evaluates:
 * 1. TypeScript is type-stripped by esbuild (types are not checked, only removed).
 * 2. The JavaScript is parsed with acorn so a syntax error is reported as `syntax_error` before
 *    any isolate is spent on it.
 * 3. Code that uses top-level `await` or `return` is wrapped in an async function, with its last
 *    expression statement returned, so its value is the task's result just like a plain script's
 *    completion value. The wrapper adds no newline, so line numbers in stack traces still match.
 */
export async function prepareCode(runtime: Runtime, code: string): Promise<PreparedCode> {
  let js = code;
  if (runtime === 'typescript') {
    try {
      // `format` is left unset so esbuild keeps top-level await and statement order as written.
      js = (await transform(code, { loader: 'ts', target: 'es2022', sourcemap: false })).code;
    } catch (err) {
      return { ok: false, message: esbuildMessage(err) };
    }
  }
  let program: Program;
  try {
    program = parse(js, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      allowAwaitOutsideFunction: true,
      allowReturnOutsideFunction: true,
    });
  } catch (err) {
    return { ok: false, message: `SyntaxError: ${(err as Error).message}` };
  }
  if (!usesTopLevelAwaitOrReturn(program)) return { ok: true, source: js };
  const last = program.body.at(-1);
  let body = js;
  if (last?.type === 'ExpressionStatement') {
    const expr = (last as Node & { expression: Node }).expression;
    body = `${js.slice(0, last.start)}return (${js.slice(expr.start, expr.end)});${js.slice(last.end)}`;
  }
  return { ok: true, source: `(async () => {${body}\n})()` };
}

/** True when `await` or `return` appears at top level (outside any function body). */
function usesTopLevelAwaitOrReturn(program: Program): boolean {
  let found = false;
  const visit = (node: unknown): void => {
    if (found || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    const n = node as { type?: string };
    if (typeof n.type !== 'string') return;
    if (n.type === 'AwaitExpression' || n.type === 'ReturnStatement') {
      found = true;
      return;
    }
    if (n.type === 'ForOfStatement' && (node as { await?: boolean }).await) {
      found = true;
      return;
    }
    // Function bodies have their own await/return scope: do not descend.
    if (
      n.type === 'FunctionDeclaration' ||
      n.type === 'FunctionExpression' ||
      n.type === 'ArrowFunctionExpression' ||
      n.type === 'StaticBlock'
    ) {
      return;
    }
    // A class member's computed key (`class A { [await x] = 1 }`) is evaluated in the enclosing
    // scope, so an `await` there is top-level; its value or method body is not. Skipping the
    // whole member left such code unwrapped, and V8 then refused it at run time.
    if (n.type === 'MethodDefinition' || n.type === 'PropertyDefinition') {
      const member = node as { computed?: boolean; key?: unknown };
      if (member.computed) visit(member.key);
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === 'type' || key === 'start' || key === 'end' || key === 'loc') continue;
      visit(value);
    }
  };
  visit(program.body);
  return found;
}

function esbuildMessage(err: unknown): string {
  const errors = (err as { errors?: { text: string; location?: { line: number; column: number } }[] })
    .errors;
  const first = errors?.[0];
  if (!first) return 'SyntaxError: could not transpile TypeScript';
  const where = first.location ? ` (${first.location.line}:${first.location.column})` : '';
  return `SyntaxError: ${first.text}${where}`;
}
