/** What the console's page modules share: the page context and the form-field reader. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleApi } from './console-api.ts';
import type { SafeHtml } from './html.ts';
import type { ConsoleSession } from './session-store.ts';

/** What a page handler gets: the session, the API as the browser would see it, and a renderer. */
export interface PageContext {
  session: ConsoleSession;
  api: ConsoleApi;
  render(title: string, body: SafeHtml, scripts?: readonly string[], status?: number): FastifyReply;
}
export type PageHandler = (request: FastifyRequest, reply: FastifyReply, ctx: PageContext) => Promise<FastifyReply>;
/** Registers a GET or POST page that needs a session (none → 303 to the sign-in page). */
export type AddPage = (method: 'GET' | 'POST', url: string, handler: PageHandler) => void;

/** The string field of a parsed form body, or undefined. */
export function field(request: FastifyRequest, name: string): string | undefined {
  const body = request.body as Record<string, unknown> | undefined;
  const v = body?.[name];
  return typeof v === 'string' ? v : undefined;
}

/** Ids in console URLs (tasks, approvals, agents, users, keys): checked before they reach a /v1 URL. */
export const ID_SHAPE = /^[A-Za-z0-9_.-]{1,100}$/;
