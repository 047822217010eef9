/**
 * Console approvals: the queue (live: static/approvals.js polls GET /v1/approvals), a request's
 * page with everything the decision is bound to, and the approve/deny form. The buttons are
 * left out for whoever the API would refuse (deciderRefusal — the API still decides).
 */
import type { Approval } from '../../protocol/approval.ts';
import { APPROVAL_STATUSES } from '../../protocol/approval.ts';
import { deciderRefusal } from '../approvals/approval-routes.ts';
import { field, ID_SHAPE, type AddPage, type PageContext } from './page-kit.ts';
import { html, json, type SafeHtml } from './html.ts';


export function approvalRow(a: Approval): SafeHtml {
  return html`<tr data-id="${a.id}">
    <td><a href="/console/approvals/${a.id}">${a.capability}</a></td>
    <td class="risk-${a.risk}">${a.risk}</td>
    <td>${a.agentId}</td>
    <td>${a.actingFor ?? '—'}</td>
    <td><a href="/console/tasks/${a.taskId}">${a.taskId.slice(0, 8)}</a></td>
    <td>${a.promptSnippet ?? ''}</td>
    <td>${a.status === 'pending' ? html`<span class="countdown" data-deadline="${a.deadline}">${a.deadline}</span>` : a.status}</td>
  </tr>`;
}

export function approvalPages(addPage: AddPage): void {
  addPage('GET', '/console/approvals', async (request, _reply, { api, render }) => {
    const asked = (request.query as Record<string, unknown>)['status'];
    const status = typeof asked === 'string' && (APPROVAL_STATUSES as readonly string[]).includes(asked) ? asked : 'pending';
    const res = await api.get(`/v1/approvals?status=${status}&limit=100`);
    const tabs = html`<p class="tabs">${APPROVAL_STATUSES.map((s) => html`<a href="/console/approvals?status=${s}" class="${s === status ? 'current' : ''}">${s}</a> `)}</p>`;
    if (res.status !== 200) {
      return render('Approvals', html`${tabs}<p class="error" role="alert">${res.problem}</p>`, [], res.status);
    }
    const items = (res.body?.['items'] ?? []) as Approval[];
    const body = html`${tabs}
      <table id="approvals" data-status="${status}">
        <thead><tr><th>Capability</th><th>Risk</th><th>Agent</th><th>Acting for</th><th>Task</th><th>Prompt</th><th>${status === 'pending' ? 'Deadline' : 'Status'}</th></tr></thead>
        <tbody>${items.map(approvalRow)}</tbody>
      </table>
      <p id="empty" ${items.length > 0 ? html`hidden` : ''}>No ${status} requests.</p>`;
    return render('Approvals', body, ['approvals.js', 'countdown.js']);
  });

  addPage('GET', '/console/approvals/:id', async (request, _reply, ctx) => {
    const { id } = request.params as { id: string };
    return approvalPage(ctx, id);
  });

  addPage('POST', '/console/approvals/:id/decide', async (request, reply, ctx) => {
    const { id } = request.params as { id: string };
    const verb = field(request, 'verb');
    if (!ID_SHAPE.test(id) || (verb !== 'approve' && verb !== 'deny')) {
      return ctx.render('Approval request', html`<p class="error" role="alert">Choose approve or deny.</p>`, [], 400);
    }
    const reason = field(request, 'reason')?.trim();
    const res = await ctx.api.send('POST', `/v1/approvals/${id}/${verb}`, field(request, 'csrf'), reason ? { reason } : {});
    if (res.status === 200) return reply.redirect(`/console/approvals/${id}`, 303);
    return approvalPage(ctx, id, res.problem ?? `Refused (${res.status})`, res.status);
  });
}

async function approvalPage(
  { api, render, session }: PageContext,
  id: string,
  error?: string,
  status = 200,
) {
  if (!ID_SHAPE.test(id)) return render('Approval request', html`<p class="error">Not found</p>`, [], 404);
  const res = await api.get(`/v1/approvals/${id}`);
  if (res.status !== 200) return render('Approval request', html`<p class="error" role="alert">${res.problem}</p>`, [], res.status);
  const a = res.body as unknown as Approval;
  const refusal = deciderRefusal(session.principal, a);
  const decide =
    a.status !== 'pending'
      ? html`<p id="decided">This request is <strong>${a.status}</strong>${a.decidedBy ? html` by ${a.decidedBy}` : ''}${a.reason ? html` — “${a.reason}”` : ''}.</p>`
      : refusal
        ? html`<p id="no-decision" class="note">You cannot decide this request: ${refusal.message}.</p>`
        : html`<form method="post" action="/console/approvals/${a.id}/decide" id="decide">
            <input type="hidden" name="csrf" value="${session.csrf}">
            <label>Reason <textarea name="reason" maxlength="1000" rows="2"></textarea></label>
            <button type="submit" name="verb" value="approve" id="approve">Approve</button>
            <button type="submit" name="verb" value="deny" id="deny">Deny</button>
          </form>`;
  const body = html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
    <dl class="facts">
      <dt>Status</dt><dd id="approval-status">${a.status}</dd>
      <dt>Deadline</dt><dd>${a.status === 'pending' ? html`<span class="countdown" data-deadline="${a.deadline}">${a.deadline}</span>` : a.deadline}</dd>
      <dt>Capability</dt><dd id="capability">${a.capability}</dd>
      <dt>Risk</dt><dd class="risk-${a.risk}">${a.risk}</dd>
      <dt>Task</dt><dd><a href="/console/tasks/${a.taskId}">${a.taskId}</a> (call #${a.seq})</dd>
      <dt>Agent</dt><dd>${a.agentId} (${a.principalKind})</dd>
      <dt>Acting for</dt><dd>${a.actingFor ?? '—'}</dd>
      <dt>Asked by policies</dt><dd>${a.policyIds.length > 0 ? a.policyIds.join(', ') : '(the fail-safe default)'}</dd>
      <dt>Prompt snippet</dt><dd id="prompt">${a.promptSnippet ?? '—'}</dd>
      <dt>Binding (SHA-256)</dt><dd><code>${a.bindingSha256}</code></dd>
    </dl>
    <h2>Exact input</h2>
    ${a.redacted?.length ? html`<p class="note">Hidden from this view (marked secret by the capability's schema): ${a.redacted.join(', ')}</p>` : ''}
    <pre id="input">${json(a.input)}</pre>
    <h2>The task's code</h2>
    <pre id="code">${a.code ?? '(not available)'}</pre>
    ${a.codeTruncated ? html`<p class="note">Truncated at 64 KiB.</p>` : ''}
    <h2>Decision</h2>
    ${decide}`;
  return render(`Approval: ${a.capability}`, body, ['countdown.js'], status);
}
