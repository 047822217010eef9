// The pending queue, kept live: polls GET /v1/approvals with the session cookie (the same API
// and rules as any client) and rebuilds the table with DOM text nodes only (never innerHTML).
const table = document.getElementById('approvals');
const POLL_MS = 2000;

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function link(td, href, text) {
  td.textContent = '';
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  td.append(a);
}

function render(items) {
  const body = table.tBodies[0];
  const rows = items.map((a) => {
    const row = document.createElement('tr');
    row.dataset.id = a.id;
    link(cell(row, ''), `/console/approvals/${encodeURIComponent(a.id)}`, a.capability);
    cell(row, a.risk, `risk-${a.risk}`);
    cell(row, a.agentId);
    cell(row, a.actingFor ?? '—');
    link(cell(row, ''), `/console/tasks/${encodeURIComponent(a.taskId)}`, a.taskId.slice(0, 8));
    cell(row, a.promptSnippet ?? '');
    const deadline = document.createElement('span');
    deadline.className = 'countdown';
    deadline.dataset.deadline = a.deadline;
    deadline.textContent = a.deadline;
    row.insertCell().append(deadline);
    return row;
  });
  body.replaceChildren(...rows);
  document.getElementById('empty').hidden = items.length > 0;
}

async function poll() {
  try {
    const res = await fetch('/v1/approvals?status=pending&limit=100', { headers: { accept: 'application/json' } });
    if (res.status === 401) {
      location.assign('/console/sign-in');
      return;
    }
    if (res.ok) render((await res.json()).items);
  } catch {
    // Offline for a moment: the next poll tries again.
  }
  setTimeout(poll, POLL_MS);
}

if (table && table.dataset.status === 'pending') setTimeout(poll, POLL_MS);
