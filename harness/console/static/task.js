// A task's live output and status: Server-Sent Events from GET /v1/tasks/:id/events (the
// session cookie authenticates it). Text goes in with textContent only. When the task ends,
// the page reloads once to show the result as the server renders it.
const task = document.getElementById('task');
const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

if (task && !TERMINAL.has(task.dataset.status)) {
  const output = document.getElementById('output');
  const status = document.getElementById('status');
  const events = new EventSource(`/v1/tasks/${encodeURIComponent(task.dataset.taskId)}/events`);
  events.addEventListener('output', (e) => {
    const event = JSON.parse(e.data);
    output.append(document.createTextNode(event.encoding === 'base64' ? `[${event.stream}: ${event.data.length} base64 characters]` : event.data));
  });
  events.addEventListener('status', (e) => {
    const event = JSON.parse(e.data);
    status.textContent = event.status;
    status.className = `status-${event.status}`;
    if (TERMINAL.has(event.status)) {
      events.close();
      location.reload();
    }
  });
  events.addEventListener('approval_requested', (e) => {
    const event = JSON.parse(e.data);
    status.textContent = `waiting_approval (${event.capability})`;
  });
  events.addEventListener('error', () => {
    // A closed stream of a running task (revoked session, restart): the browser retries; a
    // revoked session gets 401 and stops.
  });
}

// A failed, timed-out or cancelled task's compensations run after it ended: while the table
// may still change (none listed yet, or one pending), it is refreshed from GET /v1/tasks/:id
// every 2 s (a minute at most; a 429 waits 10 s). Text goes in with textContent only.
const ROLLBACK = new Set(['failed', 'timed_out', 'cancelled']);
const table = document.getElementById('compensations');
if (task && table && ROLLBACK.has(task.dataset.status)) {
  const body = table.tBodies[0];
  const none = document.getElementById('no-compensations');
  const COLUMNS = ['call', 'of', 'capability', 'status', 'attempts', 'error', 'finishedAt'];
  const settled = () => body.rows.length > 0 && ![...body.rows].some((r) => r.cells[3].textContent === 'pending');
  let tries = 0;
  const refresh = async () => {
    if (settled() || tries++ >= 30) return;
    let wait = 2000;
    try {
      const res = await fetch(`/v1/tasks/${encodeURIComponent(task.dataset.taskId)}`, { headers: { accept: 'application/json' } });
      if (res.status === 429) wait = 10_000;
      else if (res.ok) {
        const list = (await res.json()).compensations ?? [];
        body.replaceChildren(...list.map((c) => {
          const row = document.createElement('tr');
          for (const key of COLUMNS) {
            const cell = document.createElement('td');
            const v = c[key];
            cell.textContent = key === 'error' ? (v ? `${v.code}: ${v.message}` : '') : v === undefined ? '' : String(v);
            if (key === 'status') cell.className = `status-${c.status}`;
            row.append(cell);
          }
          return row;
        }));
        none.hidden = list.length > 0;
        table.dataset.refreshed = String(tries);
      } else return;
    } catch {
      // The network failed: try again later.
    }
    setTimeout(refresh, wait);
  };
  setTimeout(refresh, 1000);
}
