/** Puts a vault credential into an outbound request, per its type. Returns the headers it set (sensitive on redirects). */
import type { RevealedCredential } from '../../vault/credential-store.ts';
import type { OutboundRequest } from '../outbound/guarded-request.ts';

export function injectCredential(request: OutboundRequest, credential: RevealedCredential): string[] {
  const { injection, value } = credential;
  switch (injection.type) {
    case 'bearer':
      request.headers['authorization'] = `Bearer ${value}`;
      return ['authorization'];
    case 'basic':
      request.headers['authorization'] = `Basic ${Buffer.from(value, 'utf8').toString('base64')}`;
      return ['authorization'];
    case 'header':
      request.headers[injection.header.toLowerCase()] = value;
      return [injection.header.toLowerCase()];
    case 'query':
      request.url.searchParams.set(injection.param, value);
      return [];
  }
}
