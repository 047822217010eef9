/**
 * The capability socket of a sandbox container, served by the runner itself: the in-sandbox
 * clients (images/clients/) connect to /run/airlock/caps.sock, and that is a socket of this
 * process, in a host directory bind-mounted read-only at /run/airlock. A call then goes
 * program → runner in one hop, instead of program → supervisor → its stdout → the engine's
 * attach stream → runner and the answer back the same long way (on a 2-core VM that relay cost
 * about as much as everything the harness broker does for a call; bench/README.md, calls).
 *
 * Why it stays a sandbox: the directory is the container's own (one per container, made by the
 * runner, mode 0755, mounted read-only): the program can connect to the socket (0666) and can
 * neither replace it, write beside it, nor reach any other container's. A Unix socket carries
 * no route anywhere: the container still has no network. What comes over it is untrusted, and
 * handled as images/supervisor/call_relay.py handles it (the same client protocol v1, the same
 * caps and errors): strict JSON lines, lines, connections and calls in flight capped, garbage
 * answered with an error and never thrown, a client that does not read its answers dropped.
 * The runner numbers the calls (TaskCalls) and holds the attempt's broker token; nothing secret
 * enters the container, as before.
 *
 * `CALL_SOCKET_DIR=none` keeps the supervisor's relay (a Docker engine on another machine, or a
 * runner in a container whose paths the engine cannot see).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { CallResult } from './types.ts';

/** The client protocol version (images/supervisor/call_relay.py CLIENT_PROTOCOL). */
export const CLIENT_PROTOCOL = 1;
const SOCKET_NAME = 'caps.sock';
/** A 1 MiB input as JSON, plus the envelope (as call_relay.py). */
export const MAX_LINE = 1024 * 1024 + 4096;
export const MAX_CONNECTIONS = 32;
/** Calls relayed and not answered yet, over all connections of one container. */
export const MAX_PENDING = 1024;
/** Answers a connection has not read yet. */
export const MAX_UNREAD = 16 * 1024 * 1024;
const BLANK = /^[ \t\n\r\v\f]*$/;
/** sun_path holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH = 107;

export type CallHandler = (name: string, input: unknown) => Promise<CallResult>;

/** One connection: the line being read, answers still due, and whether either side is done. */
interface Conn {
  socket: net.Socket;
  /** The pieces of the line not complete yet, and their length. */
  parts: Buffer[];
  size: number;
  /** An oversized line was refused: nothing more is read. */
  closing: boolean;
  pending: number;
  /** The client has shut its side. */
  ended: boolean;
}

type Answer = { v: number; id: number | null } & ({ ok: true; output: unknown } | { ok: false; error: { code: string; message: string } });

/** The directory of this runner's sockets: one subdirectory per container. */
export class CallSockets {
  readonly #root: string;
  readonly #installationId: string;
  readonly #dir: string;

  private constructor(root: string, installationId: string, dir: string) {
    this.#root = root;
    this.#installationId = installationId;
    this.#dir = dir;
  }

  /**
   * Makes `<root>/<runner>/` afresh (what an earlier life of this runner left there goes: its
   * containers are gone too — the same rule as docker-orphans.ts: a runner id is unique among
   * the live runners of an installation, so the directory is named by both). The runner's
   * directory is 0700: the containers see only their own subdirectory, mounted as /run/airlock,
   * never its parents.
   */
  static async create(root: string, installationId: string, runnerId: string): Promise<CallSockets> {
    const dir = runnerDir(root, installationId, runnerId);
    // <root>/<16 hex>/<16 hex>/caps.sock must fit in a Unix socket address.
    const longest = path.join(dir, 'x'.repeat(16), SOCKET_NAME);
    if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
      const room = MAX_SOCKET_PATH - (Buffer.byteLength(longest) - Buffer.byteLength(path.resolve(root)));
      throw new Error(`CALL_SOCKET_DIR ${root} is too long for a Unix socket path (at most ${room} bytes)`);
    }
    await mkdir(root, { recursive: true, mode: 0o700 });
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    return new CallSockets(root, installationId, dir);
  }

  /**
   * Removes what a runner that is gone left here (docker-orphans.ts removed its containers): its
   * sockets' directories would otherwise stay behind after a crash. Never this runner's own.
   */
  async forget(runnerId: string): Promise<void> {
    const dir = runnerDir(this.#root, this.#installationId, runnerId);
    if (dir !== this.#dir) await rm(dir, { recursive: true, force: true });
  }

  /** A listening socket in a directory of its own, for one container yet to be created. */
  async open(): Promise<CallSocket> {
    const dir = path.join(this.#dir, randomBytes(8).toString('hex'));
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755); // whatever the umask said: the program traverses it
    try {
      return await CallSocket.listen(dir);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Removes the runner's directory (every container's socket must be closed). */
  async dispose(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * A runner's directory: named by a hash of its installation and id (both free text; the path
 * must stay short). Two installations on one host may each have a runner of the same id.
 */
export function runnerDir(root: string, installationId: string, runnerId: string): string {
  return path.join(root, createHash('sha256').update(JSON.stringify([installationId, runnerId])).digest('hex').slice(0, 16));
}

/** One container's socket. Answers calls with the handler of the run it serves now. */
export class CallSocket {
  /** The host directory to mount at /run/airlock (read-only). */
  readonly dir: string;
  readonly #server: net.Server;
  readonly #conns = new Set<net.Socket>();
  #handler: CallHandler | null = null;
  #pending = 0;
  #closed: Promise<void> | null = null;

  private constructor(dir: string, server: net.Server) {
    this.dir = dir;
    this.#server = server;
  }

  static async listen(dir: string): Promise<CallSocket> {
    const file = path.join(dir, SOCKET_NAME);
    // Half-open: a client may send its calls, shut its side and still read the answers.
    const server = net.createServer({ allowHalfOpen: true });
    // Not `server.maxConnections`: at the cap a new client is closed, as call_relay.py does.
    const socket = new CallSocket(dir, server);
    server.on('connection', (conn) => socket.#accept(conn));
    server.on('error', () => undefined); // after listening: nothing a client can cause
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(file, 0o666); // connect() needs write permission on the socket
    return socket;
  }

  /** The run that owns the container now: its calls go to `handler` until `close`. */
  serve(handler: CallHandler): void {
    this.#handler = handler;
  }

  /** Stops listening, drops every connection (answers still due go nowhere) and removes the directory. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#handler = null;
      for (const conn of this.#conns) conn.destroy();
      this.#conns.clear();
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.#closed;
  }

  #accept(socket: net.Socket): void {
    if (this.#closed || this.#conns.size >= MAX_CONNECTIONS) {
      socket.destroy();
      return;
    }
    this.#conns.add(socket);
    const conn: Conn = { socket, parts: [], size: 0, closing: false, pending: 0, ended: false };
    socket.on('error', () => undefined);
    socket.on('close', () => this.#conns.delete(socket));
    // The client is done sending: our side ends once its last answer is out.
    socket.on('end', () => {
      conn.ended = true;
      if (conn.pending === 0) socket.end();
    });
    socket.on('data', (data: Buffer) => this.#read(conn, data));
  }

  #read(conn: Conn, data: Buffer): void {
    let start = 0;
    while (!conn.closing) {
      const nl = data.indexOf(0x0a, start);
      const piece = nl < 0 ? data.subarray(start) : data.subarray(start, nl);
      conn.size += piece.length;
      if (conn.size > MAX_LINE) {
        conn.closing = true;
        this.#reply(conn, refusal(null, 'capability_invalid_input', `a request line is limited to ${MAX_LINE} bytes`));
        conn.socket.end();
        return;
      }
      conn.parts.push(piece);
      if (nl < 0) return;
      const line = conn.parts.length === 1 ? piece : Buffer.concat(conn.parts);
      conn.parts = [];
      conn.size = 0;
      start = nl + 1;
      this.#request(conn, line.toString('utf8'));
    }
  }

  #request(conn: Conn, line: string): void {
    if (BLANK.test(line)) return; // as call_relay.py's bytes.strip(): ASCII whitespace only
    let id: number | null = null;
    let name: string;
    let input: unknown;
    try {
      const msg: unknown = JSON.parse(line);
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('a request is a JSON object');
      const m = msg as Record<string, unknown>;
      if (!Number.isSafeInteger(m['id']) || (m['id'] as number) < 0) throw new Error('id must be a non-negative integer');
      id = m['id'] as number;
      if (m['v'] !== CLIENT_PROTOCOL) {
        throw new Error(`unsupported client protocol ${JSON.stringify(m['v'] ?? null)}; this runner speaks v${CLIENT_PROTOCOL}`);
      }
      if (typeof m['name'] !== 'string' || m['name'].length === 0 || m['name'].length > 128) throw new Error('name must be a capability name');
      name = m['name'];
      input = m['input'] ?? null;
    } catch (err) {
      this.#reply(conn, refusal(id, 'capability_invalid_input', `invalid request: ${(err as Error).message.slice(0, 300)}`));
      return;
    }
    const handler = this.#handler;
    if (!handler) {
      this.#reply(conn, refusal(id, 'capability_unavailable', 'no task is running in this sandbox'));
      return;
    }
    if (this.#pending >= MAX_PENDING) {
      this.#reply(conn, refusal(id, 'capability_rate_limited', `more than ${MAX_PENDING} calls in flight`));
      return;
    }
    this.#pending++;
    conn.pending++;
    // The handler numbers the call now, in the order the lines came (the order the program made them).
    void handler(name, input).then((result) => {
      this.#pending--;
      conn.pending--;
      if (this.#handler !== handler) return; // the run is over
      this.#reply(conn, { v: CLIENT_PROTOCOL, id, ...result });
      if (conn.ended && conn.pending === 0) conn.socket.end();
    });
  }

  #reply(conn: Conn, answer: Answer): void {
    const { socket } = conn;
    if (socket.destroyed) return;
    socket.write(`${JSON.stringify(answer)}\n`);
    // A client that does not read its answers only fills its own buffer, up to a cap.
    if (socket.writableLength > MAX_UNREAD) socket.destroy();
  }
}

function refusal(id: number | null, code: string, message: string): Answer {
  return { v: CLIENT_PROTOCOL, id, ok: false, error: { code, message } };
}
