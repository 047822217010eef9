/**
 * Server-rendered HTML that escapes by default: every value put into an `html` template is
 * escaped (text and attribute values alike), unless it is itself the output of `html` (a
 * `SafeHtml`). There is no way to splice raw text in: what a task, an agent or a prompt wrote
 * always arrives as text. Arrays of templates are joined. `null`, `undefined` and `false` render
 * nothing.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] as string);
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map((v: Value) => render(v)).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** JSON shown as text (pretty-printed, then escaped by the template). */
export const json = (value: unknown): string => JSON.stringify(value, null, 2) ?? 'null';

export interface PageOptions {
  title: string;
  /** Who is signed in (absent on the sign-in page). */
  user?: { id: string; tenantId: string; roles: readonly string[] };
  /** The session's CSRF token, for the sign-out form. */
  csrf?: string;
  /** Static scripts of the page (files under /console/static/), loaded as modules. */
  scripts?: readonly string[];
  body: SafeHtml;
}

/** The page frame: no inline script or style anywhere (the CSP forbids both). */
export function page(options: PageOptions): string {
  const { title, user, csrf, scripts = [], body } = options;
  const nav = user
    ? html`<nav>
        <a href="/console/approvals">Approvals</a>
        <a href="/console/tasks">Tasks</a>
        ${user.roles.includes('admin') ? html`<a href="/console/admin">Admin</a>` : ''}
        <span class="who">${user.id} · ${user.tenantId} · ${user.roles.join(', ') || 'no role'}</span>
        <form method="post" action="/console/sign-out" class="inline">
          <input type="hidden" name="csrf" value="${csrf ?? ''}">
          <button type="submit" id="sign-out">Sign out</button>
        </form>
      </nav>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Airlock</title>
<link rel="stylesheet" href="/console/static/console.css">
${scripts.map((s) => html`<script type="module" src="/console/static/${s}"></script>`)}
</head>
<body>
<header><strong>Airlock</strong> console ${nav}</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}
