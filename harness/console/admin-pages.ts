/**
 * Console admin (the admin role; the /v1/admin routes decide): agents and users (create,
 * disable — the kill switch) and their keys (issue — the secret shown once —, revoke);
 * capabilities, credentials (names only: the API never answers values, and the console never
 * puts one back in a page), grants and limits (create, replace, delete); and the policy sets
 * (edit active or shadow). The API's validation errors are shown next to the form.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UserRoleSchema } from '../identity/records.ts';
import type { ApiAnswer } from './console-api.ts';
import { html, json, type SafeHtml } from './html.ts';
import { field, ID_SHAPE, type AddPage, type PageContext } from './page-kit.ts';

type Item = Record<string, unknown>;
const itemsOf = (body: Record<string, unknown> | null): Item[] => (body?.['items'] ?? []) as Item[];
const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const KINDS = { agents: 'Agent', users: 'User' } as const;
/** The roles a user can be given (harness/identity/records.ts UserRoleSchema). */
const USER_ROLES = UserRoleSchema.options;
type Kind = keyof typeof KINDS;

/**
 * A list of the tenant's objects; with `remove`, each row has a delete button posting to that
 * console form handler (verb=delete, the row's name).
 */
async function section(
  ctx: PageContext,
  title: string,
  url: string,
  columns: string[],
  link?: (item: Item) => string,
  remove?: string,
): Promise<SafeHtml> {
  const res = await ctx.api.get(url);
  if (res.status !== 200) return html`<h2>${title}</h2><p class="error">${res.problem}</p>`;
  const items = res.body && 'items' in res.body ? itemsOf(res.body) : [res.body as Item];
  return html`<h2>${title}</h2>
    <table class="admin" data-section="${title}">
      <thead><tr>${columns.map((c) => html`<th>${c}</th>`)}${remove ? html`<th></th>` : ''}</tr></thead>
      <tbody>${items.map((item) => html`<tr data-name="${str(item['name'])}">${columns.map((c, i) =>
        i === 0 && link ? html`<td><a href="${link(item)}">${str(item[c])}</a></td>` : html`<td>${str(item[c])}</td>`)}
        ${remove ? html`<td><form method="post" action="${remove}" class="inline">
          <input type="hidden" name="csrf" value="${ctx.session.csrf}"><input type="hidden" name="verb" value="delete">
          <input type="hidden" name="name" value="${str(item['name'])}"><button type="submit" class="delete">Delete</button></form></td>` : ''}</tr>`)}</tbody>
    </table>`;
}

/** The forms of the admin page that post to registryForms; `Edited` is a refused one, to show again. */
type FormKind = 'capabilities' | 'credentials' | 'grants' | 'limits';
interface Edited {
  form: FormKind;
  /** The fields as they were sent (a credential's value never: it is not shown back). */
  fields: Record<string, string>;
  error: SafeHtml;
}

/** The API's refusal: its title and detail, and each of its `errors[]` (pointer and detail). */
function refusal(res: ApiAnswer): SafeHtml {
  const errors = Array.isArray(res.body?.['errors']) ? (res.body['errors'] as Item[]) : [];
  return html`<div class="error" role="alert" data-status="${res.status}"><p>${res.problem ?? `Refused (${res.status})`}</p>
    ${errors.length > 0 ? html`<ul class="problems">${errors.map((e) => html`<li><code>${str(e['pointer'])}</code> ${str(e['detail'])}</li>`)}</ul>` : ''}</div>`;
}

async function adminPage(ctx: PageContext, edited?: Edited, status = 200) {
  const parts = await Promise.all([
    section(ctx, 'Agents', '/v1/admin/agents?limit=100', ['id', 'name', 'disabled', 'createdAt'], (a) => `/console/admin/agents/${str(a['id'])}`),
    section(ctx, 'Users', '/v1/admin/users?limit=100', ['id', 'name', 'roles', 'disabled'], (u) => `/console/admin/users/${str(u['id'])}`),
    section(ctx, 'Capabilities', '/v1/admin/capabilities', ['name', 'risk', 'description'], undefined, '/console/admin/capabilities'),
    section(ctx, 'Credentials (names only)', '/v1/admin/credentials', ['name', 'type', 'updatedAt'], undefined, '/console/admin/credentials'),
    section(ctx, 'Grants', '/v1/admin/grants', ['name', 'mode', 'hostPath', 'maxBytes', 'allowedAgents'], undefined, '/console/admin/grants'),
    section(ctx, 'Limits', '/v1/admin/limits', ['defaults', 'overrides']),
  ]);
  const limits = await ctx.api.get('/v1/admin/limits');
  const mine = (form: FormKind) => (edited?.form === form ? edited : undefined);
  const value = (form: FormKind, name: string, fallback = '') => mine(form)?.fields[name] ?? fallback;
  const errorOf = (form: FormKind) => mine(form)?.error ?? '';
  const hidden = html`<input type="hidden" name="csrf" value="${ctx.session.csrf}"><input type="hidden" name="verb" value="put">`;
  const create = html`<h2>New agent or user</h2>
    <form method="post" action="/console/admin/agents" id="create-agent" class="inline">
      <input type="hidden" name="csrf" value="${ctx.session.csrf}"><input type="hidden" name="idem" value="${randomUUID()}">
      <label>Agent name <input name="name" required maxlength="100"></label> <button type="submit">Create agent</button>
    </form>
    <form method="post" action="/console/admin/users" id="create-user">
      <input type="hidden" name="csrf" value="${ctx.session.csrf}"><input type="hidden" name="idem" value="${randomUUID()}">
      <label>User name <input name="name" required maxlength="100"></label>
      ${USER_ROLES.map((r) => html`<label><input type="checkbox" name="role-${r}" value="1"> ${r}</label> `)}
      <button type="submit">Create user</button>
    </form>`;
  const forms = html`<h2>Create or replace a capability</h2>
    <form method="post" action="/console/admin/capabilities" id="put-capability">${hidden}
      ${errorOf('capabilities')}
      <label>Name <input name="name" required maxlength="200" value="${value('capabilities', 'name')}"></label>
      <p class="note">The definition as <code>PUT /v1/admin/capabilities/:name</code> takes it (JSON: description, input, output, risk, implementation, compensation…).</p>
      <textarea name="definition" rows="12" spellcheck="false">${value('capabilities', 'definition')}</textarea>
      <button type="submit">Save capability</button>
    </form>
    <h2>Store a credential</h2>
    <form method="post" action="/console/admin/credentials" id="put-credential">${hidden}
      ${errorOf('credentials')}
      <label>Name <input name="name" required maxlength="200" value="${value('credentials', 'name')}"></label>
      <label>Type <select name="type">${['bearer', 'basic', 'header', 'query'].map((t) => html`<option value="${t}" ${value('credentials', 'type') === t ? html`selected` : ''}>${t}</option>`)}</select></label>
      <label>Value <input type="password" name="value" required autocomplete="off"></label>
      <label>Header <input name="header" maxlength="200" value="${value('credentials', 'header')}"></label>
      <label>Query parameter <input name="param" maxlength="200" value="${value('credentials', 'param')}"></label>
      <button type="submit">Store credential</button>
      <p class="note">The value is sealed in the vault and never shown again, here or by the API.</p>
    </form>
    <h2>Create or replace a grant</h2>
    <form method="post" action="/console/admin/grants" id="put-grant">${hidden}
      ${errorOf('grants')}
      <label>Name <input name="name" required maxlength="200" value="${value('grants', 'name')}"></label>
      <p class="note">JSON: <code>{ "hostPath", "mode": "ro" | "rw", "maxBytes", "allowedAgents": [] }</code> (see Filesystem grants).</p>
      <textarea name="definition" rows="6" spellcheck="false">${value('grants', 'definition')}</textarea>
      <button type="submit">Save grant</button>
    </form>
    <h2>Set limits</h2>
    <form method="post" action="/console/admin/limits" id="put-limits">${hidden}
      ${errorOf('limits')}
      <p class="note">The tenant's quota overrides as JSON (replaces them all: see Rate limits and quotas).</p>
      <textarea name="definition" rows="8" spellcheck="false">${value('limits', 'definition', json(limits.body?.['overrides'] ?? {}))}</textarea>
      <button type="submit">Save limits</button>
    </form>`;
  return ctx.render('Admin', html`<p><a href="/console/admin/policies">Policies</a></p>${create}${parts}${forms}`, [], status);
}

/** A name that can go in a /v1/admin URL (the API checks its shape). */
const NAME_SHAPE = /^[^\s/?#%\\]{1,200}$/;

/**
 * The forms that create, replace and delete capabilities, credentials and grants and set the
 * limits: each posts `verb` (put or delete), `name` and the fields here, and is sent on to the
 * /v1/admin route with the form's CSRF token. A refusal shows the admin page again with the
 * API's problem (and its `errors[]`) beside the form and the text as sent, for fixing.
 */
function registryForms(addPage: AddPage): void {
  const answer = async (ctx: PageContext, reply: FastifyReply, form: FormKind, fields: Record<string, string>, res: ApiAnswer) => {
    if (res.status < 300) return reply.redirect('/console/admin', 303);
    return adminPage(ctx, { form, fields, error: refusal(res) }, res.status);
  };
  const fieldsOf = (request: FastifyRequest, names: readonly string[]) =>
    Object.fromEntries(names.map((n) => [n, field(request, n) ?? '']));
  /** The JSON text of a form, or the problem with it (nothing is sent then). */
  const parsed = (text: string): { ok: true; value: unknown } | { ok: false; error: SafeHtml } => {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (err) {
      return { ok: false, error: html`<p class="error" role="alert" data-status="400">Not JSON: ${(err as Error).message}</p>` };
    }
  };
  const refuse = (ctx: PageContext, form: FormKind, fields: Record<string, string>, error: SafeHtml) => adminPage(ctx, { form, fields, error }, 400);
  const badName = html`<p class="error" role="alert" data-status="400">A name is required (no spaces, slashes, ?, # or %).</p>`;

  for (const form of ['capabilities', 'grants'] as const) {
    addPage('POST', `/console/admin/${form}`, async (request, reply, ctx) => {
      const fields = fieldsOf(request, ['name', 'definition']);
      const name = fields['name']!.trim();
      if (!NAME_SHAPE.test(name)) return refuse(ctx, form, fields, badName);
      const url = `/v1/admin/${form}/${encodeURIComponent(name)}`;
      if (field(request, 'verb') === 'delete') return answer(ctx, reply, form, {}, await ctx.api.send('DELETE', url, field(request, 'csrf')));
      const body = parsed(fields['definition']!);
      if (!body.ok) return refuse(ctx, form, fields, body.error);
      return answer(ctx, reply, form, fields, await ctx.api.send('PUT', url, field(request, 'csrf'), body.value));
    });
  }

  addPage('POST', '/console/admin/credentials', async (request, reply, ctx) => {
    // The value is read here and sent on, never put in the fields shown back.
    const fields = fieldsOf(request, ['name', 'type', 'header', 'param']);
    const name = fields['name']!.trim();
    if (!NAME_SHAPE.test(name)) return refuse(ctx, 'credentials', fields, badName);
    const url = `/v1/admin/credentials/${encodeURIComponent(name)}`;
    if (field(request, 'verb') === 'delete') return answer(ctx, reply, 'credentials', {}, await ctx.api.send('DELETE', url, field(request, 'csrf')));
    const body = {
      type: fields['type'],
      value: field(request, 'value') ?? '',
      ...(fields['header'] ? { header: fields['header'] } : {}),
      ...(fields['param'] ? { param: fields['param'] } : {}),
    };
    return answer(ctx, reply, 'credentials', fields, await ctx.api.send('PUT', url, field(request, 'csrf'), body));
  });

  addPage('POST', '/console/admin/limits', async (request, reply, ctx) => {
    const fields = fieldsOf(request, ['definition']);
    const body = parsed(fields['definition']!);
    if (!body.ok) return refuse(ctx, 'limits', fields, body.error);
    return answer(ctx, reply, 'limits', fields, await ctx.api.send('PUT', '/v1/admin/limits', field(request, 'csrf'), body.value));
  });
}

async function principalPage(ctx: PageContext, kind: Kind, id: string, secret?: SafeHtml, error?: string | null, status = 200) {
  const res = await ctx.api.get(`/v1/admin/${kind}/${id}`);
  if (res.status !== 200) return ctx.render(KINDS[kind], html`<p class="error" role="alert">${res.problem}</p>`, [], res.status);
  const keys = await ctx.api.get(`/v1/admin/${kind}/${id}/keys`);
  const back = `/console/admin/${kind}/${id}`;
  const body = html`${secret ?? ''}${error ? html`<p class="error" role="alert">${error}</p>` : ''}
    <pre>${json(res.body)}</pre>
    <h2>API keys</h2>
    <table id="keys"><thead><tr><th>Key</th><th>Name</th><th>Created</th><th>Revoked</th><th></th></tr></thead>
    <tbody>${itemsOf(keys.body).map((k) => html`<tr><td><code>${str(k['id'])}</code></td><td>${str(k['name'])}</td><td>${str(k['createdAt'])}</td><td>${str(k['revokedAt']) || '—'}</td>
      <td>${k['revokedAt'] ? '' : html`<form method="post" action="/console/admin/keys/${str(k['id'])}/revoke" class="inline">
        <input type="hidden" name="csrf" value="${ctx.session.csrf}"><input type="hidden" name="back" value="${back}">
        <button type="submit" class="revoke">Revoke</button></form>`}</td></tr>`)}</tbody></table>
    ${(res.body as Item)['disabled'] === true
      ? html`<p class="note">Disabled.</p>`
      : html`<form method="post" action="/console/admin/${kind}/${id}/disable" id="disable" class="inline">
          <input type="hidden" name="csrf" value="${ctx.session.csrf}"><input type="hidden" name="idem" value="${randomUUID()}">
          <button type="submit">Disable this ${KINDS[kind].toLowerCase()}</button> <span class="note">(kill switch: its keys and tokens stop working${kind === 'agents' ? ', its live tasks end' : ''})</span>
        </form>`}
    <form method="post" action="/console/admin/${kind}/${id}/keys" id="issue-key">
      <input type="hidden" name="csrf" value="${ctx.session.csrf}"><input type="hidden" name="idem" value="${randomUUID()}">
      <label>New key name <input name="name" maxlength="100"></label> <button type="submit">Issue a key</button>
    </form>`;
  return ctx.render(`${KINDS[kind]} ${id}`, body, [], status);
}

async function policiesPage(ctx: PageContext, edited?: { which: string; text: string; error: string }, status = 200) {
  const res = await ctx.api.get('/v1/admin/policies');
  if (res.status !== 200) return ctx.render('Policies', html`<p class="error" role="alert">${res.problem}</p>`, [], res.status);
  const p = res.body as { active: { text: string; hash: string; policyIds: string[] }; shadow: { text: string } | null; version: number };
  const form = (which: 'active' | 'shadow', text: string, note: string) => html`
    <form method="post" action="/console/admin/policies" id="policies-${which}">
      <input type="hidden" name="csrf" value="${ctx.session.csrf}"><input type="hidden" name="which" value="${which}">
      <p class="note">${note}</p>
      ${edited?.which === which ? html`<p class="error" role="alert" id="policy-error">${edited.error}</p>` : ''}
      <textarea name="text" rows="16" cols="100" spellcheck="false">${edited?.which === which ? edited.text : text}</textarea>
      <button type="submit">Save ${which} set</button>
    </form>`;
  const body = html`<p>Version ${p.version}; active set hash <code>${p.active.hash}</code>; policies ${p.active.policyIds.join(', ')}</p>
    <h2>Active</h2>${form('active', p.active.text, 'Decides every request. Refused if it is not valid Cedar or would lock you out.')}
    <h2>Shadow</h2>${form('shadow', p.shadow?.text ?? '', 'Evaluated beside the active set and recorded in the audit log, never enforced (try a change here first).')}`;
  return ctx.render('Policies', body, [], status);
}

export function adminPages(addPage: AddPage): void {
  addPage('GET', '/console/admin', async (_request, _reply, ctx) => adminPage(ctx));
  registryForms(addPage);

  for (const kind of Object.keys(KINDS) as Kind[]) {
    addPage('GET', `/console/admin/${kind}/:id`, async (request, _reply, ctx) => {
      const { id } = request.params as { id: string };
      if (!ID_SHAPE.test(id)) return ctx.render('Not found', html``, [], 404);
      return principalPage(ctx, kind, id);
    });
    addPage('POST', `/console/admin/${kind}/:id/keys`, async (request, _reply, ctx) => {
      const { id } = request.params as { id: string };
      if (!ID_SHAPE.test(id)) return ctx.render('Not found', html``, [], 404);
      const name = field(request, 'name')?.trim();
      const res = await ctx.api.send('POST', `/v1/admin/${kind}/${id}/keys`, field(request, 'csrf'), name ? { name } : {}, field(request, 'idem'));
      if (res.status !== 201) return principalPage(ctx, kind, id, undefined, res.problem, res.status);
      const secret = html`<div class="secret" role="alert"><p><strong>The new key, shown this once</strong> (copy it now; it is stored only as a hash):</p>
        <pre id="new-secret">${str(res.body?.['secret'])}</pre></div>`;
      return principalPage(ctx, kind, id, secret);
    });
  }

  for (const kind of Object.keys(KINDS) as Kind[]) {
    addPage('POST', `/console/admin/${kind}`, async (request, reply, ctx) => {
      const name = field(request, 'name')?.trim() ?? '';
      const roles = USER_ROLES.filter((r) => field(request, `role-${r}`) === '1');
      const body = kind === 'users' ? { name, ...(roles.length > 0 ? { roles } : {}) } : { name };
      const res = await ctx.api.send('POST', `/v1/admin/${kind}`, field(request, 'csrf'), body, field(request, 'idem'));
      if (res.status !== 201) return ctx.render('Admin', html`<p class="error" role="alert">${res.problem}</p><p><a href="/console/admin">Back</a></p>`, [], res.status);
      return reply.redirect(`/console/admin/${kind}/${encodeURIComponent(str(res.body?.['id']))}`, 303);
    });
    addPage('POST', `/console/admin/${kind}/:id/disable`, async (request, reply, ctx) => {
      const { id } = request.params as { id: string };
      if (!ID_SHAPE.test(id)) return ctx.render('Not found', html``, [], 404);
      const res = await ctx.api.send('POST', `/v1/admin/${kind}/${id}/disable`, field(request, 'csrf'), undefined, field(request, 'idem'));
      if (res.status !== 200) return principalPage(ctx, kind, id, undefined, res.problem, res.status);
      return reply.redirect(`/console/admin/${kind}/${id}`, 303);
    });
  }

  addPage('POST', '/console/admin/keys/:keyId/revoke', async (request, reply, ctx) => {
    const { keyId } = request.params as { keyId: string };
    const back = field(request, 'back') ?? '';
    if (!ID_SHAPE.test(keyId)) return ctx.render('Not found', html``, [], 404);
    const res = await ctx.api.send('DELETE', `/v1/admin/keys/${keyId}`, field(request, 'csrf'));
    if (res.status !== 200) return ctx.render('Revoke key', html`<p class="error" role="alert">${res.problem}</p>`, [], res.status);
    return reply.redirect(/^\/console\/admin\/(agents|users)\/[A-Za-z0-9_.-]{1,100}$/.test(back) ? back : '/console/admin', 303);
  });

  addPage('GET', '/console/admin/policies', async (_request, _reply, ctx) => policiesPage(ctx));
  addPage('POST', '/console/admin/policies', async (request, reply, ctx) => {
    const which = field(request, 'which') === 'shadow' ? 'shadow' : 'active';
    const text = field(request, 'text') ?? '';
    const res = await ctx.api.send('PUT', `/v1/admin/policies/${which}`, field(request, 'csrf'), { text });
    if (res.status === 200) return reply.redirect('/console/admin/policies', 303);
    return policiesPage(ctx, { which, text, error: res.problem ?? `Refused (${res.status})` }, res.status);
  });
}
