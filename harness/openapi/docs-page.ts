/**
 * The API reference as one HTML page, rendered from the OpenAPI document: each operation with
 * its parameters, request body schema and responses. Plain HTML and a little CSS; no script.
 */
import type { OpenAPIV3_1 } from 'openapi-types';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function json(value: unknown): string {
  return `<pre>${esc(JSON.stringify(value, null, 2))}</pre>`;
}

function parameters(op: OpenAPIV3_1.OperationObject): string {
  const params = (op.parameters ?? []).filter((p): p is OpenAPIV3_1.ParameterObject => 'name' in p);
  if (params.length === 0) return '';
  const rows = params
    .map(
      (p) =>
        `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? 'yes' : ''}</td>` +
        `<td>${esc(p.description ?? '')} <code>${esc(JSON.stringify(p.schema ?? {}))}</code></td></tr>`,
    )
    .join('');
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>${rows}</table>`;
}

function requestBody(op: OpenAPIV3_1.OperationObject): string {
  const body = op.requestBody;
  if (!body || '$ref' in body) return '';
  const media = Object.entries(body.content ?? {});
  return media.map(([type, m]) => `<h4>Body <code>${esc(type)}</code></h4>${json(m.schema ?? {})}`).join('');
}

function responses(op: OpenAPIV3_1.OperationObject): string {
  const rows = Object.entries(op.responses ?? {})
    .map(([status, r]) => {
      const description = '$ref' in r ? r.$ref : r.description;
      const types = '$ref' in r ? '' : Object.keys(r.content ?? {}).join(', ');
      return `<tr><td>${esc(status)}</td><td>${esc(description)}</td><td><code>${esc(types)}</code></td></tr>`;
    })
    .join('');
  return `<h4>Responses</h4><table><tr><th>status</th><th>meaning</th><th>type</th></tr>${rows}</table>`;
}

export function renderDocsPage(doc: OpenAPIV3_1.Document): string {
  const sections: string[] = [];
  const index: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item?.[method];
      if (!op) continue;
      const id = op.operationId ?? `${method}-${path}`;
      index.push(`<li><a href="#${esc(id)}"><b>${method.toUpperCase()}</b> ${esc(path)}</a></li>`);
      sections.push(
        `<section id="${esc(id)}"><h3><span class="m">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>` +
          `<p><code>${esc(id)}</code>${op.security ? ' · Bearer auth' : ''}</p>` +
          `${op.description ? `<p>${esc(op.description)}</p>` : ''}` +
          parameters(op) +
          requestBody(op) +
          responses(op) +
          `</section>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)} API</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
pre{background:#f5f5f5;padding:.5rem;overflow:auto;max-height:24rem}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}
.m{background:#234;color:#fff;padding:0 .3rem;border-radius:3px}section{border-top:1px solid #ccc;margin-top:1.5rem}</style>
</head><body><h1>${esc(doc.info.title)} API <small>${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description ?? '')}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
<ul>${index.join('')}</ul>${sections.join('')}</body></html>`;
}
