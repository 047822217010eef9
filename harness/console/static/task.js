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
