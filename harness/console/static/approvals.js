// The pending queue, kept live: polls GET /v1/approvals with the session cookie (the same API,
// rules and read budget as any client: 20 reads a minute per open queue, fewer after a 429) and
// rebuilds the table with DOM text nodes only (never innerHTML).
const table = document.getElementById('approvals');
const POLL_MS = 3000;

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
  table.dataset.refreshed = String(Number(table.dataset.refreshed ?? 0) + 1);
}

async function poll() {
  let wait = POLL_MS;
  try {
    const res = await fetch('/v1/approvals?status=pending&limit=100', { headers: { accept: 'application/json' } });
    if (res.status === 401) {
      location.assign('/console/sign-in');
      return;
    }
    // Over the read budget: wait as long as the API says.
    if (res.status === 429) wait = Math.max(POLL_MS, Number(res.headers.get('retry-after') ?? 0) * 1000);
    if (res.ok) render((await res.json()).items);
  } catch {
    // Offline for a moment: the next poll tries again.
  }
  setTimeout(poll, wait);
}

if (table && table.dataset.status === 'pending') setTimeout(poll, POLL_MS);
