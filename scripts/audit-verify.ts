/**
 * Offline audit verifier: `npm run audit:verify -- <log dir | trace bundle .json> --key <verifier key>`
 * Needs nothing but exported data and the public verifier key (`GET /v1/audit/public-key` →
 * `verifierKey`, obtained out of band). A log directory (a copy of AUDIT_DIR/tenants/<id>) is
 * re-walked whole: seq, chain, tree, every signed checkpoint; a trace bundle (the answer of
 * `GET /v1/tasks/:id/trace?proofs=true`) is checked entry by entry against its signed checkpoint.
 * `--checkpoint <file>` adds a signed checkpoint kept elsewhere (e.g. one you fetched earlier), so
 * a log that was rewritten or cut together with its checkpoint history is still caught.
 * Prints a JSON report; exits 0 when intact, 1 naming the first broken entry, 2 on usage errors.
 */
import { readFileSync, statSync } from 'node:fs';
import { checkpointNotes, logLines } from '../protocol/audit/log-dir.ts';
import { parseVerifierKey, type NoteVerifier } from '../protocol/audit/note.ts';
import { verifyTraceBundle } from '../protocol/audit/verify-bundle.ts';
import { verifyLog } from '../protocol/audit/verify-log.ts';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run audit:verify -- <log dir | trace bundle.json> --key <verifier key | @file> [--key …] [--checkpoint <note file>]…\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let target: string | undefined;
const keys: NoteVerifier[] = [];
const extraCheckpoints: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i] as string;
  if (a === '--key' || a === '--checkpoint') {
    const v = args[++i];
    if (v === undefined) usage(`${a} needs a value`);
    if (a === '--key') {
      try {
        keys.push(parseVerifierKey((v.startsWith('@') ? readFileSync(v.slice(1), 'utf8') : v).trim()));
      } catch (err) {
        usage(`--key: ${(err as Error).message}`);
      }
    } else extraCheckpoints.push(readFileSync(v, 'utf8'));
  } else if (target === undefined) target = a;
  else usage(`unexpected argument ${a}`);
}
if (target === undefined) usage('name a log directory or a trace bundle');
if (keys.length === 0) usage('--key is required');

let report: { ok: boolean; firstBroken?: { seq: number; reason: string } };
if (statSync(target).isDirectory()) {
  const dir = target;
  const lines = (function* () {
    for (const l of logLines(dir)) yield l.text;
  })();
  // The log's origin is the key's name (one log per key name).
  report = { kind: 'log', ...verifyLog(lines, [...checkpointNotes(dir), ...extraCheckpoints], { verifiers: keys, origin: (keys[0] as NoteVerifier).name }) } as typeof report;
} else {
  let bundle: unknown;
  try {
    bundle = JSON.parse(readFileSync(target, 'utf8'));
  } catch {
    usage(`${target} is not JSON`);
  }
  report = { kind: 'trace', ...verifyTraceBundle(bundle, keys) } as typeof report;
}
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
if (!report.ok) process.stderr.write(`BROKEN at entry ${report.firstBroken?.seq}: ${report.firstBroken?.reason}\n`);
process.exit(report.ok ? 0 : 1);
