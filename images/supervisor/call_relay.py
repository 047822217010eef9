"""Capability calls of the program, relayed by the supervisor (protocol v3; images/README.md).

Unless the runner serves the socket itself (its default, CALL_SOCKET_DIR): it then mounts a
read-only directory of this container's at /run/airlock with its own socket in it, the clients
reach the runner directly, and this relay stays idle. What follows is the relay's way.

The program (uid 10001) has no network and no credential. Its only way to act on the world is to
ask the runner for a capability call: the in-sandbox clients (images/clients/: Python `airlock`,
Node `airlock`, `airlock-call`) connect to a Unix socket the supervisor (uid 10000) listens on,
/run/airlock/caps.sock. That directory is a small tmpfs owned by uid 10000, mode 0755: the program
can connect to the socket (mode 0666) but cannot remove, rename or replace it, nor create anything
beside it. The supervisor relays each call to the runner as a `call` frame on its stdout, and the
runner answers with a `result` line on the supervisor's stdin (the same stream the task came on).
The runner numbers the calls and holds the task attempt's broker token; nothing secret ever
enters the container.

Client protocol (JSON lines, one connection may carry many calls, answered as they complete):
  request  {"v":1,"id":<int>,"name":"tickets.create","input":<JSON>}
  answer   {"v":1,"id":<int>,"ok":true,"output":<JSON>}
           {"v":1,"id":<int|null>,"ok":false,"error":{"code":"capability_…","message":"…"}}
Everything a connection sends is untrusted: malformed lines are answered with an error (never a
crash, never a frame the runner would take for a protocol violation), lines, connections and calls
in flight are capped, and a client that does not read its answers only fills its own buffer, up to
a cap, then loses its connection.
"""

import json
import os
import selectors
import socket
import stat

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE

CLIENT_PROTOCOL = 1
SOCKET_DIR = "/run/airlock"
SOCKET_PATH = SOCKET_DIR + "/caps.sock"
MAX_LINE = 1024 * 1024 + 4096  # a 1 MiB input as JSON, plus the envelope
MAX_CONNECTIONS = 32
MAX_PENDING = 1024  # calls relayed and not answered yet, over all connections
MAX_UNREAD = 16 * 1024 * 1024  # answers a connection has not read yet
RECV = 64 * 1024


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def _loads(data):
    """Strict JSON: NaN/Infinity refused (the runner's JSON has no such values)."""
    return json.loads(data, parse_constant=_no_constants)


def _dumps(value):
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode() + b"\n"


class _Conn:
    def __init__(self, sock):
        self.sock = sock
        self.parts = []
        self.size = 0
        self.out = bytearray()
        self.closing = False


class CallRelay:
    """The socket server and the table of calls in flight. `send_frame` writes one frame to the
    runner (the supervisor's `send`); `sel` is the supervisor's selector (data tags: this object's
    listener and connections)."""

    def __init__(self, owner_uid):
        self.listener = None
        self.problem = None
        self.served_by_runner = False
        self.conns = {}
        self.pending = {}  # relayed id -> (connection, the client's id)
        self.next_id = 1
        try:
            st = os.lstat(SOCKET_DIR)
            if stat.S_ISDIR(st.st_mode) and st.st_uid != owner_uid and _is_socket(SOCKET_PATH):
                # The runner serves the socket itself (runner/backends/call-socket.ts): a read-only
                # directory of this container's, mounted here. The calls go straight to it.
                self.served_by_runner = True
                return
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != owner_uid:
                raise OSError(f"{SOCKET_DIR} must be a directory (a tmpfs) owned by uid {owner_uid}")
            # Ours to decide, whatever the mount said: runc gives a tmpfs the mode of the image's
            # mount point. 0755: the program may look and connect, never write here.
            os.chmod(SOCKET_DIR, 0o755)
            if stat.S_IMODE(os.lstat(SOCKET_DIR).st_mode) != 0o755:
                raise OSError(f"{SOCKET_DIR} could not be made 0755")
            # Non-inheritable (Python's default): the program never gets the listener itself.
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(SOCKET_PATH)
            os.chmod(SOCKET_PATH, 0o666)  # connect() needs write permission on the socket
            s.listen(64)
            s.setblocking(False)
            self.listener = s
        except OSError as e:
            # Calls then fail in the client (capability_unavailable); the task itself still runs.
            self.problem = f"capability socket unavailable: {e}"

    def register(self, sel):
        if self.listener:
            sel.register(self.listener, READ, self)

    def on_ready(self, sel, key, events, send_frame):
        """Handles one ready object of ours: the listener or a connection."""
        if key.fileobj is self.listener:
            return self._accept(sel)
        conn = self.conns.get(key.fd)
        if conn is None:
            return
        if events & WRITE:
            self._flush(sel, conn)
        if events & READ and not conn.closing:
            self._read(sel, conn, send_frame)

    def on_result(self, sel, line):
        """One `result` line from the runner: the answer goes to the connection that asked."""
        try:
            msg = _loads(line)
            rid = msg["id"]
            entry = self.pending.pop(rid, None) if isinstance(rid, int) else None
        except (ValueError, TypeError, KeyError):
            return
        if entry is None:
            return
        conn, cid = entry
        if conn.closing or conn.sock.fileno() < 0:
            return
        if msg.get("ok") is True:
            answer = {"v": CLIENT_PROTOCOL, "id": cid, "ok": True, "output": msg.get("output")}
        else:
            error = msg.get("error") if isinstance(msg.get("error"), dict) else {}
            answer = {
                "v": CLIENT_PROTOCOL,
                "id": cid,
                "ok": False,
                "error": {"code": str(error.get("code", "capability_failed")), "message": str(error.get("message", ""))},
            }
        self._reply(sel, conn, answer)

    def close(self, sel):
        """The program is gone: nobody is left to answer."""
        for conn in list(self.conns.values()):
            self._drop(sel, conn)
        if self.listener:
            sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
        self.pending.clear()

    # --- connections ----------------------------------------------------------------------------

    def _accept(self, sel):
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE & co.: try again on the next wake-up
                return
            if len(self.conns) >= MAX_CONNECTIONS:
                sock.close()
                continue
            sock.setblocking(False)
            conn = _Conn(sock)
            self.conns[sock.fileno()] = conn
            sel.register(sock, READ, self)

    def _read(self, sel, conn, send_frame):
        try:
            data = conn.sock.recv(RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            return self._drop(sel, conn)
        start = 0
        while not conn.closing:
            nl = data.find(b"\n", start)
            piece = data[start:] if nl < 0 else data[start:nl]
            conn.size += len(piece)
            if conn.size > MAX_LINE:
                conn.closing = True
                self._reply(sel, conn, _error(None, "capability_invalid_input", f"a request line is limited to {MAX_LINE} bytes"))
                break
            conn.parts.append(piece)
            if nl < 0:
                break
            line = b"".join(conn.parts)
            conn.parts, conn.size = [], 0
            start = nl + 1
            if line.strip():
                self._request(sel, conn, line, send_frame)

    def _request(self, sel, conn, line, send_frame):
        cid = None
        try:
            msg = _loads(line)
            if not isinstance(msg, dict):
                raise ValueError("a request is a JSON object")
            cid = msg.get("id")
            if not isinstance(cid, int) or isinstance(cid, bool) or not 0 <= cid < 2**53:
                cid = None
                raise ValueError("id must be a non-negative integer")
            if msg.get("v") != CLIENT_PROTOCOL:
                raise ValueError(f"unsupported client protocol {msg.get('v')!r}; this supervisor speaks v{CLIENT_PROTOCOL}")
            name = msg.get("name")
            if not isinstance(name, str) or not 0 < len(name) <= 128:
                raise ValueError("name must be a capability name")
            frame = {"t": "call", "id": self.next_id, "name": name, "input": msg.get("input")}
            data = _dumps(frame)
        except (ValueError, TypeError, RecursionError) as e:
            return self._reply(sel, conn, _error(cid, "capability_invalid_input", f"invalid request: {str(e)[:300]}"))
        if len(self.pending) >= MAX_PENDING:
            return self._reply(sel, conn, _error(cid, "capability_rate_limited", f"more than {MAX_PENDING} calls in flight"))
        self.pending[self.next_id] = (conn, cid)
        self.next_id += 1
        send_frame(data)

    def _reply(self, sel, conn, answer):
        conn.out += _dumps(answer)
        if len(conn.out) > MAX_UNREAD:  # the client does not read its answers
            return self._drop(sel, conn)
        self._flush(sel, conn)

    def _flush(self, sel, conn):
        try:
            while conn.out:
                sent = conn.sock.send(conn.out)
                del conn.out[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return self._drop(sel, conn)
        # A closing connection is not read any more (level-triggered: it would wake us forever).
        events = (0 if conn.closing else READ) | (WRITE if conn.out else 0)
        if not events:
            return self._drop(sel, conn)
        try:
            sel.modify(conn.sock, events, self)
        except (KeyError, ValueError):
            pass

    def _drop(self, sel, conn):
        fd = conn.sock.fileno()
        if fd >= 0 and self.conns.pop(fd, None) is not None:
            try:
                sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        conn.closing = True
        conn.sock.close()
        for rid in [rid for rid, (c, _) in self.pending.items() if c is conn]:
            del self.pending[rid]


def _is_socket(path):
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def _error(cid, code, message):
    return {"v": CLIENT_PROTOCOL, "id": cid, "ok": False, "error": {"code": code, "message": message}}
