"""Airlock capabilities from Python code running in an Airlock sandbox.

    from airlock import caps, CapabilityError

    ticket = caps.tickets.create(title="x")          # or caps.tickets.create({"title": "x"})
    try:
        caps.call("payments.refund", {"amount": 5})
    except CapabilityError as e:
        print(e.code)                                # capability_denied, capability_failed, ...

Only the capabilities the task declared appear on `caps` (`caps.call` takes any name; the runner
refuses the others). The sandbox has no network: a call goes over a Unix socket to the runner
(served by the runner itself, or relayed by the supervisor), which calls the harness broker with
a credential that never enters the sandbox. Calls are made one at a time per process (a lock), in the order made.
Wire format (JSON lines, v1): images/supervisor/call_relay.py. Standard library only.
"""

import json
import os
import socket
import threading

__all__ = ["caps", "CapabilityError", "call"]

SOCKET_PATH = "/run/airlock/caps.sock"
PROTOCOL = 1


class CapabilityError(Exception):
    """A capability call that returned no output. `code` is stable: capability_denied,
    capability_invalid_input, capability_failed, capability_timeout, capability_rate_limited,
    capability_unavailable, capability_uncertain, approval_denied, approval_expired."""

    def __init__(self, code, message, capability=None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.capability = capability


class _Client:
    def __init__(self):
        self._lock = threading.Lock()
        self._sock = None
        self._file = None
        self._next = 1

    def call(self, name, input=None):
        with self._lock:
            cid, self._next = self._next, self._next + 1
            try:
                request = {"v": PROTOCOL, "id": cid, "name": str(name), "input": input}
                line = json.dumps(request, separators=(",", ":"), allow_nan=False).encode() + b"\n"
            except (TypeError, ValueError, RecursionError) as e:
                raise CapabilityError("capability_invalid_input", f"the input is not JSON: {e}", name) from None
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self._sock.connect(SOCKET_PATH)
                    self._file = self._sock.makefile("rb")
                self._sock.sendall(line)
                raw = self._file.readline()
            except OSError as e:
                self._close()
                raise CapabilityError("capability_unavailable", f"the sandbox's capability socket failed: {e}", name) from None
            if not raw:
                self._close()
                raise CapabilityError("capability_unavailable", "the sandbox's capability socket closed", name)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise CapabilityError("capability_unavailable", "the sandbox's capability socket answered garbage", name) from None
        if answer.get("ok") is True:
            return answer.get("output")
        error = answer.get("error") or {}
        raise CapabilityError(str(error.get("code", "capability_failed")), str(error.get("message", "")), name)

    def _close(self):
        for f in (self._file, self._sock):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        self._sock = self._file = None


_client = _Client()


def call(name, input=None):
    """Calls capability `name` with `input` (JSON); returns its output or raises CapabilityError."""
    return _client.call(name, input)


class _Namespace:
    """`caps.tickets` or `caps.tickets.create`: attributes exist for declared capabilities only."""

    def __init__(self, prefix, names):
        self._prefix = prefix
        self._names = names

    def __getattr__(self, attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        full = f"{self._prefix}.{attr}" if self._prefix else attr
        if self._prefix and full in self._names:
            return _Function(full)
        if any(n.startswith(full + ".") for n in self._names):
            return _Namespace(full, self._names)
        raise AttributeError(f"{full!r} is not a capability this task declared")

    def __dir__(self):
        depth = self._prefix.count(".") + 1 if self._prefix else 0
        start = self._prefix + "." if self._prefix else ""
        return sorted({n.split(".")[depth] for n in self._names if n.startswith(start)})

    def __repr__(self):
        return f"<airlock capabilities {self._prefix or '(all)'}: {', '.join(dir(self))}>"


class _Function:
    def __init__(self, name):
        self.name = name

    def __call__(self, *args, **kwargs):
        if args and kwargs or len(args) > 1:
            raise TypeError(f"{self.name}() takes one input dict or keyword arguments, not both")
        return call(self.name, args[0] if args else kwargs)

    def __repr__(self):
        return f"<airlock capability {self.name}>"


class _Caps(_Namespace):
    def call(self, name, input=None):
        """Calls any capability by name (one the task did not declare is refused: capability_denied)."""
        return call(name, input)


caps = _Caps("", frozenset(n for n in os.environ.get("AIRLOCK_CAPABILITIES", "").split(",") if n))
