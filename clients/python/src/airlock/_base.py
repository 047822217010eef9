"""What the sync and async clients share: configuration, headers, retry decisions, bodies.

Only I/O differs between :class:`airlock.Airlock` and :class:`airlock.AsyncAirlock`; every
decision (what to retry, how long to wait, which error to raise) is made here, once.
"""
from __future__ import annotations

import base64
import json
import os
import random
import uuid
from email.utils import parsedate_to_datetime
from time import time
from typing import Any, Dict, Mapping, Optional, Sequence, Union
from urllib.parse import quote

import httpx

from ._errors import AirlockError, Problem, error_from_problem
from ._sse import SseEvent
from ._types import FileInput, Mount, TaskMetadata

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "timed_out", "cancelled"})
# A create with wait=60 answers after up to 60 s: the read timeout must outlast it.
DEFAULT_TIMEOUT = httpx.Timeout(90.0, connect=10.0)
# Methods a retry cannot duplicate even without an Idempotency-Key.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

Files = Union[Mapping[str, Union[bytes, str]], Sequence[FileInput]]
Params = Mapping[str, Union[str, int, float, bool, None]]


class Settings:
    """The client's options, defaults from the environment resolved."""

    def __init__(
        self,
        api_key: Optional[str],
        base_url: Optional[str],
        max_retries: int,
        max_retry_delay_ms: float,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("AIRLOCK_API_KEY")
        if not key:
            raise ValueError("No API key: pass api_key=... or set AIRLOCK_API_KEY")
        self.api_key = key
        self.base_url = (base_url or os.environ.get("AIRLOCK_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.max_retries = max_retries
        self.max_retry_delay_ms = max_retry_delay_ms

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self, idempotency_key: Optional[str] = None, accept: str = "application/json, application/problem+json") -> Dict[str, str]:
        h = {"authorization": f"Bearer {self.api_key}", "accept": accept}
        if idempotency_key is not None:
            # An RFC 9651 structured-field string, as the API wants it.
            h["idempotency-key"] = f'"{idempotency_key}"'
        return h

    def backoff_s(self, attempt: int, retry_after_ms: Optional[float]) -> float:
        """Seconds to wait before try ``attempt + 1``: what Retry-After said, else exponential with jitter."""
        if retry_after_ms is not None:
            base = retry_after_ms
        else:
            base = min(250.0 * 2**attempt, 8000.0) * (0.5 + random.random() / 2)
        return min(base, self.max_retry_delay_ms) / 1000.0


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def enc(segment: str) -> str:
    """One path segment, percent-encoded (``/`` included)."""
    return quote(segment, safe="")


def file_path(path: str) -> str:
    """A file path under /out as URL path segments (each encoded, the slashes kept)."""
    return "/".join(enc(part) for part in path.split("/"))


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After`` (delay-seconds or an HTTP date) in milliseconds."""
    if value is None:
        return None
    try:
        return max(0.0, float(value) * 1000.0)
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value).timestamp() - time()) * 1000.0)
    except (TypeError, ValueError, IndexError):
        return None


def read_problem(response: httpx.Response) -> Optional[Problem]:
    """The problem in an answer already read, or None if its body is not one."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) and isinstance(body.get("code"), str) else None


def retry_after_ms(response: httpx.Response) -> Optional[float]:
    return parse_retry_after(response.headers.get("retry-after"))


def error_for(response: httpx.Response) -> AirlockError:
    """The typed error for a non-2xx answer already read."""
    return error_from_problem(response.status_code, read_problem(response), retry_after_ms(response))


def stream_error(event: SseEvent) -> AirlockError:
    """An event stream's ``error`` event (the credential stopped being valid): its 401 problem."""
    try:
        problem = json.loads(event.data)
    except ValueError:
        problem = None
    return error_from_problem(401, problem if isinstance(problem, dict) and isinstance(problem.get("code"), str) else None, None)


def should_retry_answer(response: httpx.Response) -> bool:
    """429 and 503 are worth another try; so is a 409 saying the first try with this key is still making its task."""
    if response.status_code in (429, 503):
        return True
    if response.status_code == 409:
        problem = read_problem(response)
        return problem is not None and problem.get("code") == "idempotency_request_in_flight"
    return False


def should_retry_transport(method: str, idempotent: bool, err: httpx.TransportError) -> bool:
    """A network error is retried when a retry cannot do the work twice: the request has an
    Idempotency-Key or a method the API treats as idempotent, or it never left (connect failed)."""
    return idempotent or method.upper() in _SAFE_METHODS or isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout))


def event_status(event: SseEvent) -> Optional[str]:
    """The status a ``status`` event announces (None for other events)."""
    if event.event != "status":
        return None
    try:
        status = json.loads(event.data).get("status")
    except (ValueError, AttributeError):
        return None
    return status if isinstance(status, str) else None


def decode_json(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def task_body(
    runtime: str,
    code: str,
    *,
    wait: Optional[float] = None,
    timeout_ms: Optional[int] = None,
    memory_mb: Optional[int] = None,
    files: Optional[Files] = None,
    stdin: Union[str, bytes, None] = None,
    args: Optional[Sequence[str]] = None,
    mounts: Optional[Sequence[Mount]] = None,
    capabilities: Optional[Sequence[str]] = None,
    callback_url: Optional[str] = None,
    metadata: Optional[TaskMetadata] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The body of ``POST /v1/tasks`` from Python arguments.

    ``files`` may be a mapping ``{path: bytes or str}`` (encoded here) or the API's own list of
    ``{"path", "contentBase64"}``; ``stdin`` as ``bytes`` is sent as ``stdinBase64``.
    """
    body: Dict[str, Any] = {"runtime": runtime, "code": code}
    if wait is not None:
        body["wait"] = wait
    if timeout_ms is not None:
        body["timeoutMs"] = timeout_ms
    if memory_mb is not None:
        body["memoryMb"] = memory_mb
    if files is not None:
        if isinstance(files, Mapping):
            body["files"] = [
                {"path": p, "contentBase64": base64.b64encode(c.encode() if isinstance(c, str) else bytes(c)).decode("ascii")}
                for p, c in files.items()
            ]
        else:
            body["files"] = [dict(f) for f in files]
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        body["stdinBase64"] = base64.b64encode(bytes(stdin)).decode("ascii")
    elif stdin is not None:
        body["stdin"] = stdin
    if args is not None:
        body["args"] = list(args)
    if mounts is not None:
        body["mounts"] = [dict(m) for m in mounts]
    if capabilities is not None:
        body["capabilities"] = list(capabilities)
    if callback_url is not None:
        body["callbackUrl"] = callback_url
    if metadata is not None:
        body["metadata"] = dict(metadata)
    if extra:
        body.update(extra)
    return body
