// A task's audit trace, verified in this browser (verify.js) against the tenant's public key:
// the page does not take the server's word that the entries are in the signed log. The key is
// pinned on first use (localStorage), so a later change of key is shown, not silently accepted.
import { verifyTrace } from './verify.js';

const task = document.getElementById('task');
const statusLine = document.getElementById('trace-status');
const table = document.getElementById('trace');

function row(cells, verdictText, verdictClass) {
  const tr = document.createElement('tr');
  for (const text of cells) tr.insertCell().textContent = text;
  const v = tr.insertCell();
  v.textContent = verdictText;
  v.className = verdictClass;
  return tr;
}

async function run() {
  const id = encodeURIComponent(task.dataset.taskId);
  const [keyRes, traceRes] = await Promise.all([fetch('/v1/audit/public-key'), fetch(`/v1/tasks/${id}/trace?proofs=true`)]);
  if (!keyRes.ok || !traceRes.ok) {
    const problem = await (keyRes.ok ? traceRes : keyRes).json().catch(() => ({}));
    statusLine.textContent = `Trace not available: ${problem.detail ?? problem.title ?? 'error'}`;
    statusLine.className = 'pending';
    return;
  }
  const key = await keyRes.json();
  const bundle = await traceRes.json();
  document.getElementById('verifier-key').textContent = key.verifierKey;
  const pinName = `airlock.audit-key.${key.origin}`;
  const pinned = localStorage.getItem(pinName);
  if (pinned === null) localStorage.setItem(pinName, key.verifierKey);
  const keyChanged = pinned !== null && pinned !== key.verifierKey;
  const result = await verifyTrace(bundle, keyChanged ? pinned : key.verifierKey);
  const body = table.tBodies[0];
  body.replaceChildren(
    ...result.entries.map((v, i) => {
      // Only proven text is read; an unproven entry shows its seq and why, not its claims.
      const e = v.entry;
      return e
        ? row([String(e.seq), e.time ?? '', e.action ?? '', e.outcome ?? '', e.agentId ?? ''], 'verified', 'verified')
        : row([String(v.seq || i + 1), '', '(not shown: unverified)', '', ''], `NOT VERIFIED: ${v.reason}`, 'broken');
    }),
  );
  const broken = result.entries.filter((v) => !v.ok).length;
  const parts = [];
  if (keyChanged) parts.push('The audit key differs from the one this browser saw first: verified against the pinned key.');
  if (!result.checkpoint.ok) parts.push(result.checkpoint.reason);
  else parts.push(`Checkpoint of ${result.checkpoint.origin} at size ${result.checkpoint.size}: signature verified.`);
  parts.push(broken === 0 ? `All ${result.entries.length} entries verified.` : `${broken} of ${result.entries.length} entries NOT verified.`);
  if (result.pending > 0) parts.push(`${result.pending} newer entries are not yet covered by a checkpoint.`);
  statusLine.textContent = parts.join(' ');
  statusLine.className = broken === 0 && result.checkpoint.ok && !keyChanged ? 'verified' : 'broken';
  statusLine.dataset.result = broken === 0 && result.checkpoint.ok && !keyChanged ? 'verified' : 'broken';
}

if (task && table) {
  run().catch((err) => {
    statusLine.textContent = `Verification failed: ${err.message}`;
    statusLine.className = 'broken';
    statusLine.dataset.result = 'broken';
  });
}
