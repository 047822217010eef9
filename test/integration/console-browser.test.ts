/**
 * The console (/console) in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against the real harness listening on a loopback port, a real in-process
 * runner, the real broker calling a real loopback payments fixture, the real audit sealer
 * process, and real Redis. Nothing is mocked; the only interference is where a test says so: a
 * Playwright route that tampers with one audit entry on its way to the page, and a cross-site
 * attacker page served from another origin (localhost vs 127.0.0.1).
 *
 * Covered: sign-in (a user's key; an agent key and a bad key cannot), the session cookie's
 * flags (HttpOnly, SameSite=Strict, Secure behind TLS), CSP on every page and no inline script;
 * the live queue; a request's page; approve → the owner's task page sees the task resume and
 * finish; deny; no buttons for the user the task acts for, nor for a member; CSRF: a POST
 * without the token and a forged cross-site form change nothing; sign-out revokes the session;
 * `<script>` in prompt, code and input renders inert; the trace verifies in the browser and a
 * tampered entry shows as not verified; a failed task's compensation followed live to done;
 * the admin forms (a bad capability definition's errors[] inline and nothing stored, a good one
 * listed and deleted, a credential's value in no console answer, refused grants and limits).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { issueBrokerToken } from '../../protocol/broker-token.ts';
import { activatePolicies, callBroker, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { auditFixture, startSealerProcess, waitFor, type SealerProcess } from '../helpers/audit.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import { AGENTS, startStack, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && process.env['CI'] !== 'true' ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : false;
const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };
/** Set to a directory to keep screenshots of the main pages there (docs/console/ for the README). */
const SHOTS = process.env['CONSOLE_SCREENSHOTS'];
const shot = async (page: Page, name: string) => {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
};
const XSS = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;

interface User { id: string; key: string }

describe('console in a real browser', { skip }, () => {
  let stack: Stack;
  let target: TargetFixture;
  let sealer: SealerProcess;
  let browser: Browser;
  let base: string;
  let owner: User; // a member who runs tasks and watches them
  let approver: User;
  let actedFor: User; // an approver a task acts for
  const contexts: BrowserContext[] = [];

  before(async () => {
    target = await startTargetFixture(SECRETS);
    const fx = await auditFixture();
    sealer = await startSealerProcess(fx);
    stack = await startStack({
      broker: true,
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: 'acme',
        AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
        CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
        APPROVAL_POLL_MS: '1000',
        AUDIT_DIR: fx.dir,
        // X-Forwarded-Proto from loopback is believed: the Secure-cookie check below uses it.
        TRUST_PROXY: '127.0.0.1',
      },
    });
    await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
    const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
    await putCapability(stack, ADMIN_KEY, 'payments.refund', {
      description: 'Refunds an order (cannot be undone)',
      input: obj({ order: { type: 'string' }, amount: { type: 'integer' } }, ['order', 'amount']),
      risk: 'irreversible',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
    });
    // A step undone by another capability (see README "Rollback"): a failed task's page shows it.
    await putCapability(stack, ADMIN_KEY, 'steps.do', {
      description: 'Does a step',
      input: obj({ name: { type: 'string' } }, ['name']),
      risk: 'write',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/steps/{input.name}` },
      compensation: { capability: 'steps.undo', input: { id: '{output.id}', why: 'undo {input.name}' } },
    });
    await putCapability(stack, ADMIN_KEY, 'steps.undo', {
      description: 'Undoes a step',
      input: obj({ id: { type: 'string' }, why: { type: 'string' } }, ['id']),
      risk: 'write',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/undo/{input.id}`, body: { why: '{input.why}' } },
    });
    await activatePolicies(stack, ADMIN_KEY, `@id("invoke-refund") permit (principal, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"payments.refund");
      @id("invoke-steps") permit (principal, action == Airlock::Action::"capabilities.invoke", resource) when { resource == Airlock::Capability::"steps.do" || resource == Airlock::Capability::"steps.undo" };`);
    await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
    owner = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['member'] });
    approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
    actedFor = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
    base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await resetPolicies(stack, ADMIN_KEY).catch(() => {});
    await stack?.close();
    await sealer?.stop();
    await target?.close();
  });

  /** A fresh browser profile signed in with `key`; returns its page. */
  async function signedIn(key: string): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/console`);
    assert.match(page.url(), /\/console\/sign-in$/);
    await page.fill('#key', key);
    await Promise.all([page.waitForURL(`${base}/console/approvals`), page.click('#sign-in')]);
    return page;
  }

  async function submit(key: string, code: string, promptSnippet = 'refund please', capabilities = ['payments.refund']): Promise<string> {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...bearer(key), 'idempotency-key': `"${randomUUID()}"` },
      payload: { runtime: 'javascript', code, capabilities, timeoutMs: 60_000, metadata: { promptSnippet } },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  }

  async function pendingApproval(taskId: string): Promise<string> {
    return waitFor(async () => {
      const res = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(approver.key) });
      return (res.json().items as { id: string; taskId: string }[]).find((a) => a.taskId === taskId)?.id;
    }, `an approval request of task ${taskId}`, 30_000);
  }

  const approvalStatus = async (id: string) =>
    (await stack.app.inject({ method: 'GET', url: `/v1/approvals/${id}`, headers: bearer(approver.key) })).json().status as string;

  test('sign-in: a user key gets a session cookie (HttpOnly, SameSite=Strict); agent and bad keys do not', { timeout: 60_000 }, async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    for (const [key, status, text] of [
      [AGENTS.alice.key, 403, /agent keys/],
      [`ak_${randomBytes(20).toString('hex')}`, 401, /not valid/],
    ] as const) {
      await page.goto(`${base}/console/sign-in`);
      await page.fill('#key', key);
      const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/console/sign-in') && r.request().method() === 'POST'), page.click('#sign-in')]);
      assert.equal(res.status(), status);
      assert.match(await page.locator('.error').innerText(), text);
      assert.equal((await context.cookies()).some((c) => c.name === 'airlock_session'), false);
    }
    const signed = await signedIn(approver.key);
    const cookie = (await signed.context().cookies()).find((c) => c.name === 'airlock_session');
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.secure, false, 'plain http here');
    assert.equal(await signed.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie.includes('airlock_session')), false, 'scripts cannot read it');

    // Behind TLS (a trusted proxy says https): the cookie is Secure.
    const form = await stack.app.inject({ method: 'GET', url: '/console/sign-in', headers: { 'x-forwarded-proto': 'https' } });
    const signinCookie = String(form.headers['set-cookie']).split(';')[0] as string;
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.body)?.[1] as string;
    const tls = await stack.app.inject({
      method: 'POST', url: '/console/sign-in',
      headers: { 'x-forwarded-proto': 'https', cookie: signinCookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ key: approver.key, csrf }).toString(),
    });
    assert.equal(tls.statusCode, 303, tls.body);
    const set = ([] as string[]).concat(tls.headers['set-cookie'] as string[]).find((c) => c.startsWith('airlock_session='));
    assert.match(set ?? '', /; HttpOnly; SameSite=Strict; Secure$/);
  });

  test('every page: a strict CSP and no inline script or style', { timeout: 60_000 }, async () => {
    const page = await signedIn(ADMIN_KEY);
    for (const path of ['/console/sign-in', '/console/approvals', '/console/tasks', '/console/admin', '/console/admin/policies', '/console/approvals?status=denied']) {
      const res = await page.goto(`${base}${path}`);
      assert.ok(res);
      const csp = res.headers()['content-security-policy'] ?? '';
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /script-src 'self'(;|$)/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      const html = await res.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${path}: inline script`);
      assert.doesNotMatch(html, /\son[a-z]+=|\sstyle=/i, `${path}: inline handlers or styles`);
      if (path === '/console/admin') await shot(page, 'admin');
    }
  });

  test('approve: the request appears live, shows what it binds, and the owner sees the task resume and finish', { timeout: 120_000 }, async () => {
    const approverPage = await signedIn(approver.key);
    const ownerPage = await signedIn(owner.key);
    const order = `o-${randomUUID()}`;
    const id = await submit(owner.key, `const r = await caps.payments.refund({ order: '${order}', amount: 7 }); r`);
    // The queue page was open before the request existed: it shows up without a reload.
    const row = approverPage.locator(`tr:has(a[href="/console/tasks/${id}"])`);
    await row.waitFor({ timeout: 30_000 });
    assert.match(await row.innerText(), /payments\.refund[\s\S]*irreversible[\s\S]*refund please/);
    await shot(approverPage, 'approvals');
    await ownerPage.goto(`${base}/console/tasks/${id}`);
    await ownerPage.locator('#status', { hasText: 'waiting_approval' }).waitFor({ timeout: 30_000 });

    await Promise.all([approverPage.waitForURL(/\/console\/approvals\/[0-9a-f-]+$/), row.locator('a').first().click()]);
    assert.equal(await approverPage.locator('#capability').innerText(), 'payments.refund');
    assert.deepEqual(JSON.parse(await approverPage.locator('#input').innerText()), { order, amount: 7 });
    assert.match(await approverPage.locator('#code').innerText(), /caps\.payments\.refund/);
    assert.equal(await approverPage.locator('#prompt').innerText(), 'refund please');
    assert.match(await approverPage.locator('.countdown').innerText(), /^\d+m \d\ds left$/);
    await shot(approverPage, 'approval-request');
    await approverPage.fill('textarea[name=reason]', 'looks right');
    await Promise.all([approverPage.waitForURL(/\/console\/approvals\/[0-9a-f-]+$/), approverPage.click('#approve')]);
    assert.match(await approverPage.locator('#decided').innerText(), new RegExp(`approved by ${approver.id} — “looks right”`));

    // The owner's page follows the task over SSE and shows the result once it ends.
    await ownerPage.locator('#status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
    assert.deepEqual(JSON.parse(await ownerPage.locator('#result').innerText()), { refunded: 7, order, refundId: `re_${target.refunds.length}` });
    assert.equal(target.refunds.filter((r) => r.order === order).length, 1);
  });

  test('deny with a reason: the code sees approval_denied', { timeout: 120_000 }, async () => {
    const page = await signedIn(approver.key);
    const id = await submit(owner.key, `let out = 'ran'; try { await caps.payments.refund({ order: 'd-1', amount: 3 }); } catch (e) { out = e.code; } out`);
    const approvalId = await pendingApproval(id);
    await page.goto(`${base}/console/approvals/${approvalId}`);
    await page.fill('textarea[name=reason]', 'not this one');
    await Promise.all([page.waitForURL(`${base}/console/approvals/${approvalId}`), page.click('#deny')]);
    assert.match(await page.locator('#decided').innerText(), /denied/);
    const ownerPage = await signedIn(owner.key);
    await ownerPage.goto(`${base}/console/tasks/${id}`);
    await ownerPage.locator('#status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
    assert.equal(JSON.parse(await ownerPage.locator('#result').innerText()), 'approval_denied');
  });

  test('no buttons for the user the task acts for, nor for a member; CSRF: no token or a forged cross-site form changes nothing', { timeout: 120_000 }, async () => {
    // A task acting for an approver (RFC 8693), its call made the way its runner makes it.
    const taskId = randomUUID();
    await stack.deps.store.create({
      id: taskId, tenantId: 'acme', agentId: 'alice', status: 'running', runtime: 'javascript', createdAt: new Date().toISOString(),
      limits: { timeoutMs: 60_000, cpuMs: 60_000, memoryMb: 64, outputBytes: 1024 * 1024 }, metadata: { promptSnippet: 'for a user' }, attempts: 1,
      capabilities: ['payments.refund'], principalKind: 'agent', actingFor: actedFor.id,
    });
    const token = await issueBrokerToken(stack.deps.redis, taskId, 1);
    assert.ok(token);
    const first = await callBroker(stack, token, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input: { order: 'a-1', amount: 1 } });
    assert.equal(!first.body.ok && first.body.error.code, 'approval_pending');
    const approvalId = await pendingApproval(taskId);

    const self = await signedIn(actedFor.key);
    await self.goto(`${base}/console/approvals/${approvalId}`);
    assert.equal(await self.locator('#approve, #deny').count(), 0);
    assert.match(await self.locator('#no-decision').innerText(), /acts for/);
    const member = await signedIn(owner.key);
    const res = await member.goto(`${base}/console/approvals/${approvalId}`);
    assert.equal(res?.status(), 403);
    assert.equal(await member.locator('#approve, #deny').count(), 0);

    // The approver's own browser, but requests without the session's CSRF token: refused.
    const page = await signedIn(approver.key);
    await page.goto(`${base}/console/approvals/${approvalId}`);
    const noToken = await page.evaluate(async (url) => {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return { status: r.status, body: (await r.json()) as { detail: string } };
    }, `/v1/approvals/${approvalId}/approve`);
    assert.equal(noToken.status, 403);
    assert.match(noToken.body.detail, /CSRF/);
    const wrongToken = await page.evaluate(async (url) => {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'verb=approve&csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      return r.status;
    }, `/console/approvals/${approvalId}/decide`);
    assert.equal(wrongToken, 403);
    assert.equal(await approvalStatus(approvalId), 'pending');

    // A forged form on another site, submitted in the approver's signed-in browser.
    const attacker: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="post" action="${base}/console/approvals/${approvalId}/decide"><input name="verb" value="approve"></form>
        <script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    const port = (attacker.address() as { port: number }).port;
    try {
      await Promise.all([page.waitForURL(/\/console\/sign-in$/), page.goto(`http://localhost:${port}/`)]);
    } finally {
      attacker.close();
    }
    assert.equal(await approvalStatus(approvalId), 'pending', 'the forged cross-site POST decided nothing');
  });

  test('sign-out revokes the session: the old cookie no longer works, for pages or the API', { timeout: 60_000 }, async () => {
    const page = await signedIn(approver.key);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'airlock_session');
    assert.ok(cookie);
    const use = async () => {
      const api = await fetch(`${base}/v1/approvals`, { headers: { cookie: `airlock_session=${cookie.value}` } });
      const pageRes = await fetch(`${base}/console/approvals`, { headers: { cookie: `airlock_session=${cookie.value}` }, redirect: 'manual' });
      return [api.status, pageRes.status];
    };
    assert.deepEqual(await use(), [200, 200]);
    await Promise.all([page.waitForURL(/\/console\/sign-in$/), page.click('#sign-out')]);
    assert.deepEqual(await use(), [401, 303]);
  });

  test('<script> in prompt, code and input renders inert, as text', { timeout: 120_000 }, async () => {
    const id = await submit(owner.key, `// ${XSS}\nconst r = await caps.payments.refund({ order: ${JSON.stringify(XSS)}, amount: 1 }); r`, XSS);
    const approvalId = await pendingApproval(id);
    const page = await signedIn(approver.key);
    const scripts: string[] = [];
    page.on('console', (m) => scripts.push(m.text()));
    await page.goto(`${base}/console/approvals`);
    await page.locator(`tr[data-id="${approvalId}"]`).waitFor();
    await page.locator('#approvals[data-refreshed]').waitFor(); // one live refresh too (DOM-built rows)
    for (const path of [`/console/approvals`, `/console/approvals/${approvalId}`]) {
      await page.goto(`${base}${path}`);
      assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined, path);
      assert.equal(await page.locator('script:not([src]), img').count(), 0, path);
    }
    assert.equal(await page.locator('#prompt').innerText(), XSS);
    assert.match(await page.locator('#code').innerText(), /<script>window\.__xss=1<\/script>/);
    assert.equal(JSON.parse(await page.locator('#input').innerText()).order, XSS);
    const ownerPage = await signedIn(owner.key);
    await ownerPage.goto(`${base}/console/tasks/${id}`);
    assert.equal(await ownerPage.locator('#prompt').innerText(), XSS);
    assert.equal(await ownerPage.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
    await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: bearer(owner.key) });
  });

  test('admin: issue a key (its secret shown once), sign in with it, revoke it (its session ends); create and disable a user; a bad policy edit shows the API’s error inline', { timeout: 60_000 }, async () => {
    const admin = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['admin'] });
    const page = await signedIn(admin.key);
    // (Straight to the user's page: the admin list shows the first 100 users, and the shared
    // Redis of a test run holds more of acme's than that.)
    await page.goto(`${base}/console/admin`);
    assert.equal(page.url(), `${base}/console/admin`);
    await page.goto(`${base}/console/admin/users/${owner.id}`);
    await page.fill('#issue-key input[name=name]', 'console-issued');
    await Promise.all([page.waitForLoadState('load'), page.click('#issue-key button')]);
    const secret = (await page.locator('#new-secret').innerText()).trim();
    assert.match(secret, /^ak_/);
    await page.goto(`${base}/console/admin/users/${owner.id}`);
    assert.equal(await page.locator('#new-secret').count(), 0, 'shown once: not on the next visit');
    assert.equal((await page.content()).includes(secret), false);

    const ownerPage = await signedIn(secret);
    assert.equal((await ownerPage.goto(`${base}/console/tasks`))?.status(), 200);
    const row = page.locator('#keys tr', { hasText: 'console-issued' });
    await Promise.all([page.waitForURL(`${base}/console/admin/users/${owner.id}`), row.locator('button.revoke').click()]);
    assert.equal(await row.locator('button.revoke').count(), 0, 'shown as revoked: nothing left to revoke');
    await ownerPage.goto(`${base}/console/tasks`);
    assert.match(ownerPage.url(), /\/console\/sign-in$/, 'the session of a revoked key is over');

    // A user made and then disabled from the console: their session ends with them.
    await page.goto(`${base}/console/admin`);
    await page.fill('#create-user input[name=name]', 'made in the console');
    await page.check('#create-user input[name=role-approver]');
    await Promise.all([page.waitForURL(/\/console\/admin\/users\/usr_[0-9a-f]+$/), page.click('#create-user button')]);
    const made = page.url().split('/').at(-1) as string;
    const view = await stack.app.inject({ method: 'GET', url: `/v1/admin/users/${made}`, headers: bearer(ADMIN_KEY) });
    assert.deepEqual([view.json().name, view.json().roles], ['made in the console', ['approver']]);
    await page.fill('#issue-key input[name=name]', 'k');
    await Promise.all([page.waitForLoadState('load'), page.click('#issue-key button')]);
    const madePage = await signedIn((await page.locator('#new-secret').innerText()).trim());
    await Promise.all([page.waitForURL(`${base}/console/admin/users/${made}`), page.click('#disable button')]);
    assert.equal((await stack.app.inject({ method: 'GET', url: `/v1/admin/users/${made}`, headers: bearer(ADMIN_KEY) })).json().disabled, true);
    await madePage.goto(`${base}/console/approvals`);
    assert.match(madePage.url(), /\/console\/sign-in$/, 'a disabled user is signed out');

    await page.goto(`${base}/console/admin/policies`);
    const before = await page.locator('#policies-active textarea').inputValue();
    await page.fill('#policies-active textarea', 'permit (principal, action, resource) when { nonsense };');
    await Promise.all([page.waitForLoadState('load'), page.click('#policies-active button')]);
    assert.match(await page.locator('#policy-error').innerText(), /not valid|policy/i);
    assert.equal(await page.locator('#policies-active textarea').inputValue(), 'permit (principal, action, resource) when { nonsense };', 'the text stays for fixing');
    const stored = await stack.app.inject({ method: 'GET', url: '/v1/admin/policies', headers: bearer(ADMIN_KEY) });
    assert.equal(stored.json().active.text, before, 'nothing changed');
  });

  test('a task whose call succeeded and whose code then threw: its page shows the compensation, followed live to done', { timeout: 120_000 }, async () => {
    const page = await signedIn(owner.key);
    const step = `c-${randomUUID().slice(0, 8)}`;
    // The undo answers 503 until the test lets it through: the compensation stays pending, retried.
    target.undoBehaviour.set(`st_${step}`, Infinity);
    const id = await submit(owner.key, `await caps.steps.do({ name: '${step}' });\nthrow new Error('after the step')`, 'a step, then a throw', ['steps.do']);
    await page.goto(`${base}/console/tasks/${id}`);
    await page.locator('#status', { hasText: 'failed' }).waitFor({ timeout: 60_000 });
    const rows = page.locator('#compensations tbody tr');
    // Pending after a failed try (the page updates itself: no reload), its error shown.
    await rows.filter({ has: page.locator('td.status-pending') }).filter({ hasText: /\d{3}|unavailable|error/i }).waitFor({ timeout: 60_000 });
    const pending = await rows.first().locator('td').allInnerTexts();
    assert.deepEqual(pending.slice(0, 4), ['0', 'steps.do', 'steps.undo', 'pending']);
    assert.match(pending[5] ?? '', /\S/, 'the last try’s error is shown');
    // Let the undo through: the open page (no reload) follows the compensation to `done`.
    target.undoBehaviour.set(`st_${step}`, 0);
    await rows.locator('td.status-done').waitFor({ timeout: 60_000 });
    assert.ok(await page.locator('#compensations[data-refreshed]').count(), 'updated by the page’s script');
    const cells = await rows.first().locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(0, 4), ['0', 'steps.do', 'steps.undo', 'done']);
    assert.ok(Number(cells[4]) >= 2, `attempts ${cells[4]}`);
    assert.match(cells[6] ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.equal(await rows.count(), 1);
    assert.ok(target.undone.includes(`st_${step}`), 'the target saw the step undone');
    // And as the server renders it, on a fresh load.
    await page.reload();
    assert.deepEqual((await page.locator('#compensations tbody tr td').allInnerTexts()).slice(0, 4), ['0', 'steps.do', 'steps.undo', 'done']);
    assert.equal(await page.locator('#no-compensations').isHidden(), true);
    await shot(page, 'task-compensations');
  });

  test('admin forms: a bad capability definition shows the API’s errors inline and stores nothing; a good one is listed, then deleted; a credential’s value never comes back', { timeout: 90_000 }, async () => {
    const page = await signedIn(ADMIN_KEY);
    const name = `console.made${randomBytes(3).toString('hex')}`;
    const stored = async (url: string) => (await stack.app.inject({ method: 'GET', url, headers: bearer(ADMIN_KEY) })).statusCode;
    const definition = (input: unknown) => JSON.stringify({
      description: `made in the console ${XSS}`,
      input,
      risk: 'write',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/steps/{input.name}` },
    }, null, 2);
    await page.goto(`${base}/console/admin`);
    const bad = definition({ type: 'string' });
    await page.fill('#put-capability input[name=name]', name);
    await page.fill('#put-capability textarea', bad);
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/console/admin/capabilities')), page.click('#put-capability button')]);
    assert.equal(res.status(), 400);
    assert.match(await page.locator('#put-capability .problems').innerText(), /\/body\/input\/type[\s\S]*type "object"/);
    assert.equal(await page.locator('#put-capability textarea').inputValue(), bad, 'the text stays for fixing');
    assert.equal(await stored(`/v1/admin/capabilities/${name}`), 404, 'nothing stored');
    // Not JSON at all: refused before the API, the text kept.
    await page.fill('#put-capability textarea', '{ nope');
    await Promise.all([page.waitForLoadState('load'), page.click('#put-capability button')]);
    assert.match(await page.locator('#put-capability .error').innerText(), /Not JSON/);
    assert.equal(await stored(`/v1/admin/capabilities/${name}`), 404);

    await page.fill('#put-capability textarea', definition({ type: 'object', properties: { name: { type: 'string' } }, required: ['name'] }));
    await Promise.all([page.waitForURL(`${base}/console/admin`), page.click('#put-capability button')]);
    const row = page.locator(`table[data-section="Capabilities"] tr[data-name="${name}"]`);
    assert.match(await row.innerText(), /write[\s\S]*made in the console <script>/);
    assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
    assert.equal(await stored(`/v1/admin/capabilities/${name}`), 200);
    await Promise.all([page.waitForURL(`${base}/console/admin`), row.locator('button.delete').click()]);
    assert.equal(await row.count(), 0);
    assert.equal(await stored(`/v1/admin/capabilities/${name}`), 404, 'deleted');

    // A credential: stored, listed by name, its value in no page (also not on a refusal).
    const value = `cv_${randomBytes(16).toString('hex')}`;
    const bodies: Promise<string>[] = [];
    page.on('response', (r) => { if (r.url().startsWith(`${base}/console`) && r.status() !== 303) bodies.push(r.text().catch(() => '')); });
    const noValue = async (where: string) => assert.equal((await page.content()).includes(value), false, where);
    await page.fill('#put-credential input[name=name]', 'console-cred');
    await page.selectOption('#put-credential select[name=type]', 'basic');
    await page.fill('#put-credential input[name=value]', value);
    await Promise.all([page.waitForLoadState('load'), page.click('#put-credential button')]);
    assert.match(await page.locator('#put-credential .error').innerText(), /user:password/);
    assert.equal(await page.locator('#put-credential input[name=value]').inputValue(), '', 'the value is not put back in the form');
    await noValue('the refusal');
    assert.equal(await stored('/v1/admin/credentials/console-cred'), 404);
    await page.selectOption('#put-credential select[name=type]', 'bearer');
    await page.fill('#put-credential input[name=value]', value);
    await Promise.all([page.waitForURL(`${base}/console/admin`), page.click('#put-credential button')]);
    assert.match(await page.locator('table[data-section="Credentials (names only)"] tr[data-name="console-cred"]').innerText(), /bearer/);
    await noValue('the admin page after saving');
    for (const path of ['/console/admin', '/console/admin/policies', '/console/approvals', '/console/tasks']) {
      await page.goto(`${base}${path}`);
      await noValue(path);
    }
    const seen = await Promise.all(bodies);
    assert.ok(seen.length >= 6, `${seen.length} console answers`);
    assert.equal(seen.filter((b) => b.includes(value)).length, 0, 'no console answer carried the value');
    await page.goto(`${base}/console/admin`);
    await Promise.all([page.waitForURL(`${base}/console/admin`), page.locator('tr[data-name="console-cred"] button.delete').click()]);
    assert.equal(await stored('/v1/admin/credentials/console-cred'), 404, 'deleted');

    // A grant outside GRANT_ROOTS and limits naming nobody: the API's problem shown, nothing stored.
    await page.fill('#put-grant input[name=name]', 'console-grant');
    await page.fill('#put-grant textarea', JSON.stringify({ hostPath: '/etc', mode: 'ro', maxBytes: 1024, allowedAgents: ['*'] }));
    await Promise.all([page.waitForLoadState('load'), page.click('#put-grant button')]);
    assert.equal(await page.locator('#put-grant .error').getAttribute('data-status'), '400');
    assert.equal(await stored('/v1/admin/grants/console-grant'), 404);
    const limitsBefore = (await stack.app.inject({ method: 'GET', url: '/v1/admin/limits', headers: bearer(ADMIN_KEY) })).json().overrides;
    await page.fill('#put-limits textarea', JSON.stringify({ agents: { 'no-such-agent': { readsPerMin: 5 } } }));
    await Promise.all([page.waitForLoadState('load'), page.click('#put-limits button')]);
    assert.match(await page.locator('#put-limits .problems').innerText(), /\/body\/agents\/no-such-agent/);
    assert.deepEqual((await stack.app.inject({ method: 'GET', url: '/v1/admin/limits', headers: bearer(ADMIN_KEY) })).json().overrides, limitsBefore);
  });

  test('the trace verifies in the browser; a tampered entry shows as not verified', { timeout: 120_000 }, async () => {
    const id = await submit(owner.key, `'no calls'`);
    const bundle = await waitFor(async () => {
      const res = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}/trace?proofs=true`, headers: bearer(owner.key) });
      const b = res.statusCode === 200 ? (res.json() as { entries: string[]; pending: number }) : null;
      return b && b.pending === 0 && b.entries.some((e) => e.includes('"succeeded"')) ? b : null;
    }, 'the finished task sealed under a checkpoint', 30_000);
    const page = await signedIn(owner.key);
    await page.goto(`${base}/console/tasks/${id}`);
    const status = page.locator('#trace-status[data-result]');
    await status.waitFor();
    assert.equal(await status.getAttribute('data-result'), 'verified', await status.innerText());
    assert.equal(await page.locator('#trace tbody tr').count(), bundle.entries.length);
    assert.equal(await page.locator('#trace td.verified').count(), bundle.entries.length);
    await shot(page, 'task');

    // The same page, with one entry altered on its way (a server or proxy lying about it).
    await page.route('**/trace?proofs=true', async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { entries: string[] };
      body.entries[0] = (body.entries[0] as string).replace(/"action":"[^"]+"/, '"action":"tampered"');
      await route.fulfill({ response: res, json: body });
    });
    await page.reload();
    await status.waitFor();
    assert.equal(await status.getAttribute('data-result'), 'broken');
    assert.match(await page.locator('#trace tbody tr').first().innerText(), /NOT VERIFIED/);
    await shot(page, 'task-tampered');
    assert.equal(await page.locator('#trace td.verified').count(), bundle.entries.length - 1);
  });
});
