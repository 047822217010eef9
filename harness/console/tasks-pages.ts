/**
 * Console tasks: the list (filter by status), and a task's page: status, result, files, live
 * output (static/task.js on GET /v1/tasks/:id/events), and its audit trace verified in the
 * browser (static/trace.js + verify.js), so the page need not trust the server for it.
 */
import { ROLLBACK_STATUSES, type Compensation } from '../../protocol/compensation.ts';
import { isTerminal, TaskStatusSchema, type TaskStatus } from '../../protocol/task.ts';
import type { TaskView } from '../schemas/tasks.ts';
import { html, json, type SafeHtml } from './html.ts';
import { ID_SHAPE, type AddPage } from './page-kit.ts';

const STATUSES = TaskStatusSchema.options;

/**
 * The compensations of a failed, timed-out or cancelled task (see README "Rollback"), one row
 * each; static/task.js keeps the table current while any is pending (same columns, textContent).
 */
function compensationsTable(compensations: readonly Compensation[]): SafeHtml {
  return html`<table id="compensations">
      <thead><tr><th>Call</th><th>Of</th><th>Compensation</th><th>Status</th><th>Attempts</th><th>Error</th><th>Finished</th></tr></thead>
      <tbody>${compensations.map((c) => html`<tr>
        <td>${c.call}</td><td>${c.of}</td><td>${c.capability}</td><td class="status-${c.status}">${c.status}</td><td>${c.attempts}</td>
        <td>${c.error ? `${c.error.code}: ${c.error.message}` : ''}</td><td>${c.finishedAt ?? ''}</td></tr>`)}</tbody>
    </table>
    <p id="no-compensations" ${compensations.length > 0 ? html`hidden` : ''}>None (yet): only completed calls of capabilities with a <code>compensation</code> are rolled back.</p>`;
}

export function taskPages(addPage: AddPage): void {
  addPage('GET', '/console/tasks', async (request, _reply, { api, render }) => {
    const q = request.query as Record<string, unknown>;
    const status = typeof q['status'] === 'string' && (STATUSES as readonly string[]).includes(q['status']) ? q['status'] : '';
    const cursor = typeof q['cursor'] === 'string' && /^[A-Za-z0-9_=-]{1,200}$/.test(q['cursor']) ? q['cursor'] : '';
    const params = new URLSearchParams({ limit: '50', ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) });
    const res = await api.get(`/v1/tasks?${params.toString()}`);
    const filter = html`<form method="get" action="/console/tasks" class="filters">
        <label>Status <select name="status"><option value="">any</option>
          ${STATUSES.map((s) => html`<option value="${s}" ${s === status ? html`selected` : ''}>${s}</option>`)}
        </select></label>
        <button type="submit">Filter</button>
      </form>`;
    if (res.status !== 200) return render('Tasks', html`${filter}<p class="error" role="alert">${res.problem}</p>`, [], res.status);
    const items = (res.body?.['items'] ?? []) as TaskView[];
    const next = res.body?.['nextCursor'];
    const body = html`${filter}
      <table id="tasks">
        <thead><tr><th>Task</th><th>Status</th><th>Runtime</th><th>Created</th><th>Prompt</th></tr></thead>
        <tbody>${items.map(
          (t) => html`<tr><td><a href="/console/tasks/${t.id}">${t.id}</a></td><td class="status-${t.status}">${t.status}</td>
            <td>${t.runtime}</td><td>${t.createdAt}</td><td>${t.metadata?.promptSnippet ?? ''}</td></tr>`,
        )}</tbody>
      </table>
      ${items.length === 0 ? html`<p>No tasks.</p>` : ''}
      ${typeof next === 'string' ? html`<p><a href="/console/tasks?${new URLSearchParams({ ...(status ? { status } : {}), cursor: next }).toString()}">Next page</a></p>` : ''}`;
    return render('Tasks', body);
  });

  addPage('GET', '/console/tasks/:id', async (request, _reply, { api, render }) => {
    const { id } = request.params as { id: string };
    if (!ID_SHAPE.test(id)) return render('Task', html`<p class="error">Not found</p>`, [], 404);
    const res = await api.get(`/v1/tasks/${id}`);
    if (res.status !== 200) return render('Task', html`<p class="error" role="alert">${res.problem}</p>`, [], res.status);
    const t = res.body as unknown as TaskView;
    const done = isTerminal(t.status as TaskStatus);
    const files = t.result?.files ?? [];
    const body = html`<div id="task" data-task-id="${t.id}" data-status="${t.status}">
      <dl class="facts">
        <dt>Status</dt><dd id="status" class="status-${t.status}">${t.status}</dd>
        <dt>Runtime</dt><dd>${t.runtime}</dd>
        <dt>Created</dt><dd>${t.createdAt}</dd>
        <dt>Started</dt><dd>${t.startedAt ?? '—'}</dd>
        <dt>Finished</dt><dd>${t.finishedAt ?? '—'}</dd>
        <dt>Acting for</dt><dd>${t.metadata?.userId ?? '—'}</dd>
        <dt>Prompt snippet</dt><dd id="prompt">${t.metadata?.promptSnippet ?? '—'}</dd>
      </dl>
      ${t.error ? html`<h2>Error</h2><pre id="error">${json(t.error)}</pre>` : ''}
      <h2>Output ${done ? '' : html`<small>(live)</small>`}</h2>
      <pre id="output" aria-live="polite">${done ? [t.result?.stdout ?? '', t.result?.stderr ?? ''].join('') : ''}</pre>
      <h2>Result</h2>
      <pre id="result">${t.result ? json(t.result.value) : done ? '(none)' : '(not finished)'}</pre>
      <h2>Files</h2>
      ${files.length === 0
        ? html`<p>None.</p>`
        : html`<ul id="files">${files.map((f) => html`<li><a href="/v1/tasks/${t.id}/files/${f.path.split('/').map(encodeURIComponent).join('/')}">${f.path}</a> (${f.size} bytes, SHA-256 <code>${f.sha256}</code>)</li>`)}</ul>`}
      ${t.result?.changes?.length ? html`<h2>Changes applied to grants</h2><pre>${json(t.result.changes)}</pre>` : ''}
      ${(ROLLBACK_STATUSES as readonly string[]).includes(t.status) || t.compensations
        ? html`<h2>Compensations</h2>${compensationsTable(t.compensations ?? [])}`
        : ''}
      <h2>Audit trace</h2>
      <p id="trace-status">Verifying in this browser…</p>
      <p class="note">Checked here against the tenant's audit key: <code id="verifier-key">…</code></p>
      <table id="trace">
        <thead><tr><th>Seq</th><th>Time</th><th>Action</th><th>Outcome</th><th>By</th><th>Verified</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>`;
    return render(`Task ${t.id.slice(0, 8)}`, body, ['task.js', 'trace.js']);
  });
}
