"""The synchronous client. Every mutating call sends one ``Idempotency-Key`` per logical call,
reused on each retry, so a retry after a dropped connection never creates a second task.
Retried up to ``max_retries`` times, waiting what ``Retry-After`` says (else an exponential
backoff): 429, 503, a 409 ``idempotency_request_in_flight``, and a network error when a retry
cannot do the work twice (see ``_base.should_retry_transport``); other problems raise at once as
typed errors. The TypeScript SDK decides the same way.
"""
from __future__ import annotations

import contextlib
import time
from types import TracebackType
from typing import Any, Generator, Optional, Sequence, Type, Union, cast

import httpx

from ._base import (
    DEFAULT_TIMEOUT,
    TERMINAL_STATUSES,
    Files,
    Params,
    Settings,
    decode_json,
    enc,
    error_for,
    event_status,
    file_path,
    new_idempotency_key,
    retry_after_ms,
    should_retry_answer,
    should_retry_transport,
    stream_error,
    task_body,
)
from ._errors import AirlockError, ConnectionError
from ._resources import Admin, Approvals, Audit, Capabilities, Tokens
from ._sse import SseEvent, SseParser
from ._types import Mount, Runtime, Runtimes, Task, TaskList, TaskMetadata


class Airlock:
    """Airlock's API, synchronously. Use as a context manager (or call :meth:`close`).

    :param api_key: default ``AIRLOCK_API_KEY``.
    :param base_url: default ``AIRLOCK_URL``, else ``http://127.0.0.1:8080``.
    :param max_retries: retries of one call on network errors, 429 and 503.
    :param max_retry_delay_ms: longest wait between two tries, whatever ``Retry-After`` says.
    :param timeout: httpx timeout of one try (the read timeout must outlast ``wait``).
    :param http_client: an ``httpx.Client`` of your own (proxies, TLS); not closed by :meth:`close`.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        *,
        max_retries: int = 3,
        max_retry_delay_ms: float = 30_000,
        timeout: Union[float, httpx.Timeout] = DEFAULT_TIMEOUT,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        self._settings = Settings(api_key, base_url, max_retries, max_retry_delay_ms)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)
        self.tasks = Tasks(self)
        self.approvals = Approvals(self)
        self.capabilities = Capabilities(self)
        self.audit = Audit(self)
        self.tokens = Tokens(self)
        self.admin = Admin(self)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> "Airlock":
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()

    def run(
        self,
        code: str,
        runtime: Runtime = "javascript",
        *,
        timeout_ms: Optional[int] = None,
        memory_mb: Optional[int] = None,
        files: Optional[Files] = None,
        stdin: Union[str, bytes, None] = None,
        args: Optional[Sequence[str]] = None,
        mounts: Optional[Sequence[Mount]] = None,
        capabilities: Optional[Sequence[str]] = None,
        callback_url: Optional[str] = None,
        metadata: Optional[TaskMetadata] = None,
        wait: float = 60,
        idempotency_key: Optional[str] = None,
    ) -> Task:
        """Runs code and returns the finished task: creates it, waiting up to ``wait`` seconds
        (≤ 60) in that request, then follows its events until it ends.

        Interrupted (Ctrl-C) while following the events, it cancels the task. While the create is
        still waiting the task's id is not known yet, so the task runs on: pass a smaller
        ``wait`` to be able to cancel sooner."""
        task = self.tasks.create(
            runtime, code, wait=wait, timeout_ms=timeout_ms, memory_mb=memory_mb, files=files, stdin=stdin, args=args,
            mounts=mounts, capabilities=capabilities, callback_url=callback_url, metadata=metadata, idempotency_key=idempotency_key,
        )
        if task["status"] in TERMINAL_STATUSES:
            return task
        try:
            with contextlib.closing(self.tasks.events(task["id"])) as events:
                for event in events:
                    if event_status(event) in TERMINAL_STATUSES:
                        break
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):
                self.tasks.cancel(task["id"])
            raise
        return self.tasks.get(task["id"])

    def runtimes(self) -> Runtimes:
        """``GET /v1/runtimes``: what you can run here, with limits."""
        return cast(Runtimes, self.request("GET", "/v1/runtimes"))

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: Optional[Params] = None,
        idempotent: bool = False,
        idempotency_key: Optional[str] = None,
    ) -> Any:
        """Any route of the API (admin, capabilities, audit, …) with the SDK's auth, retries and
        typed errors; the decoded JSON answer (None for 204). With ``idempotent=True`` (or an
        ``idempotency_key`` of your own) one Idempotency-Key is sent on every try."""
        return decode_json(self._send(method, path, json=json, params=params, idempotent=idempotent, idempotency_key=idempotency_key))

    def _request_text(self, path: str) -> str:
        return self._send("GET", path).text

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Params] = None,
        idempotent: bool = False,
        idempotency_key: Optional[str] = None,
    ) -> httpx.Response:
        s = self._settings
        keyed = idempotent or idempotency_key is not None
        headers = s.headers((idempotency_key or new_idempotency_key()) if keyed else None)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self._http.request(method, s.url(path), headers=headers, params=query, json=json)
            except httpx.TransportError as err:
                if attempt >= s.max_retries or not should_retry_transport(method, keyed, err):
                    raise ConnectionError(f"{method} {path}: {err}") from err
                time.sleep(s.backoff_s(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return response
            if attempt < s.max_retries and should_retry_answer(response):
                time.sleep(s.backoff_s(attempt, retry_after_ms(response)))
                attempt += 1
                continue
            raise error_for(response)

    def _events(self, task_id: str, last_event_id: Optional[str]) -> Generator[SseEvent, None, None]:
        s = self._settings
        failures = 0
        while True:
            wait_ms: Optional[float] = None
            try:
                headers = s.headers(accept="text/event-stream")
                if last_event_id:
                    headers["last-event-id"] = last_event_id
                with self._http.stream("GET", s.url(f"/v1/tasks/{enc(task_id)}/events"), headers=headers) as response:
                    if response.status_code != 200:
                        response.read()
                        raise error_for(response)
                    parser = SseParser()
                    for chunk in response.iter_bytes():
                        for event in parser.feed(chunk):
                            failures = 0
                            if event.id:
                                last_event_id = event.id
                            if event.event == "error":
                                raise stream_error(event)
                            yield event
                            if event_status(event) in TERMINAL_STATUSES:
                                return
            except httpx.TransportError as err:
                if failures >= s.max_retries:
                    raise ConnectionError(f"GET /v1/tasks/{task_id}/events: {err}") from err
            except AirlockError as err:
                if err.status not in (429, 503) or failures >= s.max_retries:
                    raise
                wait_ms = getattr(err, "retry_after_ms", None)
            # The stream ended (or dropped) before the task did: resume after the last event seen.
            time.sleep(s.backoff_s(failures, wait_ms))
            failures += 1


class Tasks:
    """``/v1/tasks``: create, get, list, cancel, events, files, trace."""

    def __init__(self, client: Airlock) -> None:
        self._client = client
        self.files = TaskFiles(client)

    def create(
        self,
        runtime: Runtime,
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
        idempotency_key: Optional[str] = None,
        **extra: Any,
    ) -> Task:
        """``POST /v1/tasks``. With ``wait`` (seconds, ≤ 60) the answer comes when the task ends
        or the wait runs out. ``extra``: API fields this SDK does not name (camelCase)."""
        body = task_body(
            runtime, code, wait=wait, timeout_ms=timeout_ms, memory_mb=memory_mb, files=files, stdin=stdin, args=args,
            mounts=mounts, capabilities=capabilities, callback_url=callback_url, metadata=metadata, extra=extra,
        )
        return cast(Task, self._client.request("POST", "/v1/tasks", json=body, idempotent=True, idempotency_key=idempotency_key))

    def get(self, task_id: str) -> Task:
        return cast(Task, self._client.request("GET", f"/v1/tasks/{enc(task_id)}"))

    def list(self, *, status: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None) -> TaskList:
        """Your tasks, newest first; pass ``nextCursor`` back as ``cursor``."""
        return cast(TaskList, self._client.request("GET", "/v1/tasks", params={"status": status, "limit": limit, "cursor": cursor}))

    def cancel(self, task_id: str, *, idempotency_key: Optional[str] = None) -> Task:
        """``DELETE /v1/tasks/:id``: stops a queued or running task; a finished one comes back unchanged."""
        return cast(Task, self._client.request("DELETE", f"/v1/tasks/{enc(task_id)}", idempotent=True, idempotency_key=idempotency_key))

    def events(self, task_id: str, *, last_event_id: Optional[str] = None) -> Generator[SseEvent, None, None]:
        """The task's events until it ends. A dropped stream is resumed with ``Last-Event-ID``:
        no event is missed or repeated."""
        return self._client._events(task_id, last_event_id)

    def trace(self, task_id: str, *, proofs: bool = False) -> Any:
        """The task's audit trail in order; ``proofs=True`` for a bundle verifiable offline."""
        return self._client.request("GET", f"/v1/tasks/{enc(task_id)}/trace", params={"proofs": "true" if proofs else None})


class TaskFiles:
    def __init__(self, client: Airlock) -> None:
        self._client = client

    def read(self, task_id: str, path: str) -> bytes:
        """The bytes of a file the task wrote under /out."""
        return self._client._send("GET", f"/v1/tasks/{enc(task_id)}/files/{file_path(path)}").content

