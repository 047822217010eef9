/**
 * The console's HTML template (harness/console/html.ts): everything interpolated is escaped,
 * in text and in attribute values, unless it is itself template output. Pure; nothing faked.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { escapeHtml, html, page } from '../../harness/console/html.ts';

describe('console html template', () => {
  test('interpolated values are escaped in text and attributes; template output is not escaped twice', () => {
    const evil = `</pre><script>alert(1)</script><img src=x onerror="x()"> ' \` &amp;`;
    const out = html`<p title="${evil}">${evil}</p>${html`<b>${evil}</b>`}`.value;
    assert.doesNotMatch(out, /<script|<img|<\/pre>/);
    assert.equal(out.match(/&lt;script&gt;/g)?.length, 3);
    assert.ok(out.includes('&quot;x()&quot;') && out.includes('&#39;') && out.includes('&#96;') && out.includes('&amp;amp;'));
    assert.ok(out.startsWith('<p title="') && out.includes('<b>'), 'the template’s own markup stays');
    assert.equal(escapeHtml('<>&"\'`'), '&lt;&gt;&amp;&quot;&#39;&#96;');
  });

  test('arrays are joined, null/undefined/false render nothing, numbers and true as text', () => {
    assert.equal(html`${['<a>', html`<b>`]}|${null}|${undefined}|${false}|${0}|${true}`.value, '&lt;a&gt;<b>||||0|true');
  });

  test('a page has no inline script and escapes its title and user', () => {
    const out = page({ title: '<script>t</script>', user: { id: '<i>', tenantId: 't', roles: ['admin'] }, csrf: '"x', scripts: ['task.js'], body: html`<p>ok</p>` });
    assert.doesNotMatch(out, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.ok(out.includes('&lt;script&gt;t&lt;/script&gt;') && out.includes('&lt;i&gt;') && out.includes('value="&quot;x"'));
    assert.ok(out.includes('<script type="module" src="/console/static/task.js"></script>'));
  });
});
