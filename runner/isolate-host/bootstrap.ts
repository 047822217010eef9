/**
 * Source evaluated in every fresh context before user code, via `context.evalClosure`, with
 * `$0` = the output callback, `$1` = the request callback of the host's request/reply channel
 * (runner/isolate-host/request-channel.ts). It returns `[run, deliver]`: `run(source,
 * capabilities)` runs the task with a `caps` global of those capability names, `deliver(id, reply)` answers a request; the host calls both through References it holds.
 * It captures the built-ins it needs before user code can tamper with them, installs `console`
 * and the client globals (`fs`, and `caps` per run), and removes WebAssembly (its memory is not counted by the
 * isolate's memory limit).
 *
 * Security: the only host objects the isolate ever sees are the two callbacks, `ivm.Callback`s
 * whose arguments are copied and whose return values are ignored. They are captured in this
 * closure and never exposed as globals. A callback is a function of the isolate's own realm, so
 * a constructor chain from it leads to the isolate's `Function`, never the host's.
 *
 * `run` resolves to a string: `"1" + <JSON of the value>` on success, or
 * `"0" + <JSON of {name, message, stack}>` on a throw. Building the envelope from strings only
 * means tampered `toJSON`/prototypes can change the value, never forge the envelope.
 *
 * Hardening (isolation tests, test/integration/isolation.test.ts):
 * - Strict mode, so `fn.caller`/`fn.arguments` and stack-trace call sites of user callbacks
 *   (getters, `toJSON`, `Symbol.hasInstance`) cannot reach the bootstrap's own functions.
 * - The envelope is settled by an async function, not by `Promise.prototype.then`: `then` looks
 *   up `constructor[Symbol.species]`, which user code can replace to forge or drop the envelope
 *   (that crashed the host before). `await` never consults species. The promise handed to the
 *   host gets an own `constructor: undefined` so isolated-vm's own `Promise::Then` on it also
 *   ignores a tampered `Promise.prototype.constructor`/`Promise[Symbol.species]`.
 * - The settled promise never rejects: a rejection would reach the host as an error message,
 *   which the host classifies (e.g. "memory limit"), so code could choose its own error code.
 */
export const BOOTSTRAP_SOURCE = `'use strict';
const emit = $0;
const request = $1;
const parseJson = JSON.parse;
const ErrorCtor = Error;
const PromiseCtor = Promise;
const stringify = JSON.stringify;
const indirectEval = eval;
const toStr = String;
const defineProperty = Object.defineProperty;
/** Sent when even reporting a failure failed (e.g. a message too long to be a string). */
const UNREPORTABLE = '0{"name":"Error","message":"[unreportable error]","stack":""}';
delete globalThis.WebAssembly;

function describe(value) {
  if (typeof value === 'string') return value;
  try {
    if (typeof value === 'object' && value !== null) {
      if (value instanceof Error) return toStr(value.stack || value);
      const json = stringify(value);
      if (typeof json === 'string') return json;
    }
    return toStr(value);
  } catch {
    return '[unprintable]';
  }
}
function writer(stream) {
  return function (...args) {
    let line = '';
    for (let i = 0; i < args.length; i++) line += (i === 0 ? '' : ' ') + describe(args[i]);
    // false: past the output limit (the host ends the task); stop the code that keeps writing.
    if (emit(stream, line + '\\n') === false) throw new ErrorCtor('output limit exceeded');
  };
}
const out = writer(1);
const err = writer(2);
Object.defineProperty(globalThis, 'console', {
  value: Object.freeze({ log: out, info: out, debug: out, trace: out, error: err, warn: err }),
  writable: true,
  configurable: true,
});

// One request/reply channel to the host, shared by every client global (\`fs\` first). A request
// goes out through the callback $1 as (id, channel, op, body) — four strings or numbers, copied;
// it returns once the host has taken the request — and the host answers later by calling
// \`deliver\` (it holds a Reference to it: host-to-isolate, the safe direction) with a string:
// "1" + JSON of the value, or "0" + JSON of {code, message}, turned into an Error of this realm
// carrying \`code\`. \`pending\` has no prototype, so tampering with Object.prototype cannot
// intercept answers. Keep in sync with runner/isolate-host/request-channel.ts (the host's side).
const pending = Object.create(null);
let nextRequest = 1;
function ask(channel, op, body) {
  const id = nextRequest++;
  return new PromiseCtor((resolve) => {
    pending[id] = resolve;
    request(id, channel, op, body);
  });
}
function deliver(id, reply) {
  const resolve = pending[id];
  if (resolve === undefined) return;
  delete pending[id];
  resolve(reply);
}
function codedError(message, code) {
  const e = new ErrorCtor(message);
  defineProperty(e, 'code', { __proto__: null, value: code, writable: true, configurable: true, enumerable: true });
  return e;
}
/** The value of a reply, or throws what \`fail(code, message)\` makes of its error. */
function unwrap(reply, fail) {
  if (typeof reply !== 'string' || reply.length === 0) throw fail('no_answer', 'no answer');
  if (reply[0] === '1') return parseJson(reply.slice(1));
  const e = parseJson(reply.slice(1));
  throw fail(toStr(e.code), toStr(e.message));
}

// fs.read/write/list/stat(path[, data]) on the task's grants.
function fsOp(op) {
  return async function (path, data) {
    const p = toStr(path);
    const reply = await ask('fs', op, stringify([p, data === undefined ? null : toStr(data)]));
    return unwrap(reply, (code, message) => codedError('fs ' + op + ' ' + p + ': ' + code + ': ' + message, code));
  };
}
Object.defineProperty(globalThis, 'fs', {
  value: Object.freeze({ read: fsOp('read'), write: fsOp('write'), list: fsOp('list'), stat: fsOp('stat') }),
  writable: true,
  configurable: true,
});

// caps: the capabilities the task declared, as functions of their dotted names
// (\`await caps.tickets.create({...})\`), plus \`caps.call(name, input)\`. Built per run, before
// the task's code exists, from the names the runner sends (copies). A call goes to the runner on
// the \`caps\` channel with its input as JSON; its answer comes back as the output, or as an
// Error with \`code\` (capability_denied, capability_failed, …) and \`capability\` that the code
// can catch. Keep in sync with the container clients in images/clients/.
const MAX_INPUT_CHARS = 1048576;
function capabilityError(name, code, message) {
  const e = codedError(message, code);
  defineProperty(e, 'name', { __proto__: null, value: 'CapabilityError', writable: true, configurable: true });
  defineProperty(e, 'capability', { __proto__: null, value: name, writable: true, configurable: true, enumerable: true });
  return e;
}
async function invoke(name, input) {
  const n = toStr(name);
  let body;
  try {
    body = stringify(input === undefined ? null : input);
  } catch (e) {
    throw capabilityError(n, 'capability_invalid_input', n + ': the input is not JSON (' + safe(() => toStr(e.message)) + ')');
  }
  if (typeof body !== 'string') throw capabilityError(n, 'capability_invalid_input', n + ': the input is not JSON');
  if (body.length > MAX_INPUT_CHARS) {
    throw capabilityError(n, 'capability_invalid_input', n + ': the input is larger than 1 MiB as JSON');
  }
  const reply = await ask('caps', n, body);
  return unwrap(reply, (code, message) => capabilityError(n, code, message));
}
function capsGlobal(names) {
  const root = { call: function call(name, input) { return invoke(name, input); } };
  const made = [root];
  const list = Array.isArray(names) ? names : [];
  for (let i = 0; i < list.length; i++) {
    const full = toStr(list[i]);
    const parts = full.split('.');
    if (parts.length < 2 || parts[0] === 'call') continue; // reachable through caps.call only
    let node = root;
    for (let j = 0; j < parts.length - 1; j++) {
      const key = parts[j];
      if (!Object.prototype.hasOwnProperty.call(node, key)) {
        node[key] = {};
        made.push(node[key]);
      }
      node = node[key];
      if (typeof node !== 'object') break;
    }
    const leaf = parts[parts.length - 1];
    if (typeof node === 'object' && !Object.prototype.hasOwnProperty.call(node, leaf)) {
      node[leaf] = function (input) { return invoke(full, input); };
    }
  }
  for (let i = 0; i < made.length; i++) Object.freeze(made[i]);
  return root;
}

function safe(fn) {
  try { const s = fn(); return typeof s === 'string' ? s : ''; } catch { return ''; }
}
function failed(e) {
  const isObj = typeof e === 'object' && e !== null;
  const name = isObj ? safe(() => toStr(e.name)) : 'Error';
  const message = isObj ? safe(() => toStr(e.message)) : safe(() => 'Uncaught ' + describe(e));
  const stack = isObj ? safe(() => toStr(e.stack)) : '';
  return '0' + '{"name":' + stringify(name) + ',"message":' +
    stringify(message) + ',"stack":' + stringify(stack) + '}';
}
function succeeded(value) {
  let json;
  try {
    json = stringify(value);
  } catch (e) {
    return failed({ name: 'TypeError', message: 'The result is not JSON-serializable: ' + safe(() => toStr(e.message)) });
  }
  return '1' + (typeof json === 'string' ? json : 'null');
}
async function settle(value) {
  try {
    try {
      return succeeded(await value);
    } catch (e) {
      return failed(e);
    }
  } catch {
    return UNREPORTABLE;
  }
}
function run(source, capabilities) {
  // Before the task's code exists: the built-ins used here are still the pristine ones.
  defineProperty(globalThis, 'caps', { __proto__: null, value: capsGlobal(capabilities), writable: true, configurable: true });
  let value;
  try {
    value = indirectEval(source);
  } catch (e) {
    try { return failed(e); } catch { return UNREPORTABLE; }
  }
  const settled = settle(value);
  // Null-prototype descriptor: an inherited \`Object.prototype.get\` would make it invalid.
  defineProperty(settled, 'constructor', { __proto__: null, value: undefined });
  return settled;
}
return [run, deliver];
`;
