'use strict';
/**
 * Airlock capabilities from Node code running in an Airlock sandbox.
 *
 *   const { caps, CapabilityError } = require('airlock');
 *   const ticket = await caps.tickets.create({ title: 'x' });
 *   try { await caps.call('payments.refund', { amount: 5 }); }
 *   catch (err) { console.log(err.code); }   // capability_denied, capability_failed, ...
 *
 * Only the capabilities the task declared appear on `caps` (`caps.call` takes any name; the runner
 * refuses the others). The sandbox has no network: calls go over one Unix socket to the runner
 * (served by the runner itself, or relayed by the supervisor), which calls the harness broker
 * with a credential that never enters the sandbox. Calls are numbered in the order they are made, so calls made at
 * once (Promise.all) are fine. The socket does not keep the process alive while no call waits.
 * Wire format (JSON lines, v1): images/supervisor/call_relay.py. No dependencies.
 */
const net = require('node:net');

const SOCKET_PATH = '/run/airlock/caps.sock';
const PROTOCOL = 1;

/** A capability call that returned no output; `code` is stable (see the README). */
class CapabilityError extends Error {
  constructor(code, message, capability) {
    super(message);
    this.name = 'CapabilityError';
    this.code = code;
    this.capability = capability;
  }
}

let socket = null;
let buffered = '';
let nextId = 1;
const waiting = new Map();

function failAll(message) {
  for (const [, w] of waiting) w.reject(new CapabilityError('capability_unavailable', message, w.name));
  waiting.clear();
  socket = null;
  buffered = '';
}

function connection() {
  if (socket) return socket;
  socket = net.createConnection(SOCKET_PATH);
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let answer;
      try {
        answer = JSON.parse(line);
      } catch {
        continue;
      }
      const w = waiting.get(answer.id);
      if (!w) continue;
      waiting.delete(answer.id);
      if (answer.ok === true) w.resolve(answer.output);
      else {
        const e = answer.error || {};
        w.reject(new CapabilityError(String(e.code || 'capability_failed'), String(e.message || ''), w.name));
      }
    }
    if (waiting.size === 0) socket?.unref();
  });
  socket.on('error', (err) => failAll(`the sandbox's capability socket failed: ${err.message}`));
  socket.on('close', () => failAll("the sandbox's capability socket closed"));
  return socket;
}

/** Calls capability `name` with `input` (JSON); resolves with its output or rejects with a CapabilityError. */
function call(name, input) {
  return new Promise((resolve, reject) => {
    let line;
    try {
      line = JSON.stringify({ v: PROTOCOL, id: nextId, name: String(name), input: input === undefined ? null : input });
    } catch (err) {
      reject(new CapabilityError('capability_invalid_input', `the input is not JSON: ${err.message}`, name));
      return;
    }
    const id = nextId++;
    waiting.set(id, { resolve, reject, name: String(name) });
    const s = connection();
    s.ref(); // a call is waiting: keep the process alive until it is answered
    s.write(`${line}\n`);
  });
}

const declared = (process.env.AIRLOCK_CAPABILITIES || '').split(',').filter(Boolean);
const caps = { call };
for (const full of declared) {
  const parts = full.split('.');
  if (parts.length < 2 || parts[0] === 'call') continue; // reachable through caps.call only
  let node = caps;
  for (const part of parts.slice(0, -1)) {
    if (!Object.prototype.hasOwnProperty.call(node, part)) node[part] = {};
    node = node[part];
  }
  if (typeof node === 'object') node[parts[parts.length - 1]] = (input) => call(full, input);
}
(function freeze(o) {
  Object.freeze(o);
  for (const v of Object.values(o)) if (v && typeof v === 'object') freeze(v);
})(caps);

module.exports = { caps, call, CapabilityError };
