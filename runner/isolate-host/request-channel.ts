/**
 * The host's side of the one request/reply channel between an isolate and its host (the
 * bootstrap's `ask`/`deliver`; keep in sync with runner/isolate-host/bootstrap.ts). A request
 * names a channel (`fs`, …), an operation and a body (a JSON string); the answer is a string the
 * bootstrap decodes: `"1" + JSON` of the value or `"0" + JSON` of `{ code, message }`. Nothing
 * else crosses back — never a host object, or a host error with its stack.
 *
 * A channel is served here, in the host (`fs`: the task's grants), or by the runner (`forward`):
 * the request then goes to the runner over IPC and the answer comes back the same way.
 */

/** A channel's answer: a JSON value, or an error with a stable code. */
export type ChannelReply = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/** Serves one channel's requests. Must never reject. */
export type ChannelHandler = (op: string, body: string) => Promise<ChannelReply>;

/** The encoded reply the bootstrap decodes. */
export function encodeReply(reply: ChannelReply): string {
  if (reply.ok) return `1${JSON.stringify(reply.value) ?? 'null'}`;
  return `0${JSON.stringify({ code: reply.code, message: reply.message })}`;
}

export interface RequestChannelOptions {
  /** Channels served in this process. The result waits for their requests (see `settled`). */
  local: Readonly<Record<string, ChannelHandler>>;
  /** Channels the runner serves, and how to reach it. */
  remote?: {
    channels: readonly string[];
    /** Sends the request to the runner; resolves with its encoded answer. Must never reject. */
    forward: (channel: string, op: string, body: string) => Promise<string>;
  };
}

/** One run's channel: routes each request of the isolate to its handler. */
export class RequestChannel {
  readonly #local: ReadonlyMap<string, ChannelHandler>;
  readonly #remote: RequestChannelOptions['remote'] | undefined;
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(options: RequestChannelOptions) {
    this.#local = new Map(Object.entries(options.local));
    this.#remote = options.remote;
  }

  /** Answers one request (arguments as the isolate sent them: unchecked). Never rejects. */
  handle(channel: unknown, op: unknown, body: unknown): Promise<string> {
    if (typeof channel !== 'string' || typeof op !== 'string' || typeof body !== 'string') {
      return Promise.resolve(encodeReply({ ok: false, code: 'bad_request', message: 'malformed request' }));
    }
    const local = this.#local.get(channel);
    if (local) {
      const answer = local(op, body).then(encodeReply, () => encodeReply(IO_ERROR));
      this.#inflight.add(answer);
      void answer.finally(() => this.#inflight.delete(answer));
      return answer;
    }
    if (this.#remote?.channels.includes(channel)) {
      return this.#remote.forward(channel, op, body).catch(() => encodeReply(IO_ERROR));
    }
    return Promise.resolve(encodeReply({ ok: false, code: 'unsupported', message: `no channel ${channel.slice(0, 64)}` }));
  }

  /**
   * Resolves once every local request made so far has its answer. The isolate does not have to
   * await them, so one can still be writing to a staged copy when the code ends; the result
   * waits for them, because the runner diffs and then deletes the copy once it has it. Requests
   * served by the runner are its to finish (it waits for or aborts them itself).
   */
  async settled(): Promise<void> {
    await Promise.all(this.#inflight);
  }
}

const IO_ERROR: ChannelReply = { ok: false, code: 'io_error', message: 'the request failed' };
