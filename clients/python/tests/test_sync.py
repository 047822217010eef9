"""The synchronous client against a real Airlock, through the fault proxy (see conftest.py)."""
from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
import signal
import threading
import time
import uuid
from typing import List, Set

import pytest

from airlock import (
    Airlock,
    AirlockError,
    BadRequestError,
    ConnectionError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
)

from conftest import FaultProxy

pytestmark = pytest.mark.live
QUOTED_UUID = re.compile(r'^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$')
SLOW_LINES = 'for (let i = 0; i < 5; i++) { console.log("line " + i); const t = Date.now(); while (Date.now() - t < 60) {} }'


def client(proxy: FaultProxy, **options: object) -> Airlock:
    return Airlock(base_url=proxy.url, **options)  # type: ignore[arg-type]


def my_task_ids(airlock: Airlock) -> Set[str]:
    return {t["id"] for t in airlock.tasks.list(limit=100)["items"]}


def test_run_returns_the_finished_task_and_get_list_runtimes_agree(proxy: FaultProxy) -> None:
    with client(proxy) as airlock:
        task = airlock.run("1+1", runtime="javascript")
        assert task["status"] == "succeeded"
        assert task["result"]["value"] == 2
        assert airlock.tasks.get(task["id"])["id"] == task["id"]
        assert task["id"] in my_task_ids(airlock)
        runtimes = airlock.runtimes()["runtimes"]
        assert any(r["name"] == "javascript" and r.get("available") for r in runtimes)
        # Output and metadata go through run()'s keyword arguments.
        task = airlock.run('console.log("hi from python"); 6 * 7', timeout_ms=5000, memory_mb=64, metadata={"sessionId": "py"})
        assert (task["status"], task["result"]["value"], task["metadata"]) == ("succeeded", 42, {"sessionId": "py"})
        assert "hi from python" in task["result"]["stdout"]
        assert task["limits"]["timeoutMs"] == 5000


def test_request_reaches_any_route_and_list_filters(proxy: FaultProxy) -> None:
    with client(proxy) as airlock:
        assert isinstance(airlock.request("GET", "/v1/capabilities")["items"], list)
        done = airlock.run("3")
        succeeded = airlock.tasks.list(status="succeeded", limit=100)["items"]
        assert succeeded and all(t["status"] == "succeeded" for t in succeeded)
        assert done["id"] in {t["id"] for t in succeeded}
        assert done["id"] not in {t["id"] for t in airlock.tasks.list(status="failed", limit=100)["items"]}
        # A bad query parameter is the server's 400, typed.
        with pytest.raises(BadRequestError):
            airlock.tasks.list(limit=0)


def test_a_task_that_outlives_the_wait_is_followed_to_its_end(proxy: FaultProxy) -> None:
    with client(proxy) as airlock:
        # wait=0 answers at once (queued or running): events() follows it to the end.
        created = airlock.tasks.create("javascript", SLOW_LINES, wait=0)
        assert created["status"] in ("queued", "running")
        statuses = [json.loads(e.data)["status"] for e in airlock.tasks.events(created["id"]) if e.event == "status"]
        assert statuses[-1] == "succeeded"
        assert airlock.tasks.get(created["id"])["status"] == "succeeded"


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with Airlock() as airlock:
        assert airlock.base_url == os.environ["AIRLOCK_URL"].rstrip("/")
        assert airlock.runtimes()["runtimes"]
    monkeypatch.delenv("AIRLOCK_API_KEY")
    with pytest.raises(ValueError, match="AIRLOCK_API_KEY"):
        Airlock()


def test_problems_become_typed_errors_carrying_the_code(proxy: FaultProxy) -> None:
    with client(proxy) as airlock:
        with pytest.raises(NotFoundError) as not_found:
            airlock.tasks.get(str(uuid.uuid4()))
        assert (not_found.value.status, not_found.value.code) == (404, "not_found")
        assert not_found.value.problem is not None and not_found.value.problem["status"] == 404
        assert isinstance(not_found.value, AirlockError)

        with pytest.raises(BadRequestError) as bad:
            airlock.tasks.create("javascript", "1", timeout_ms=10**9)
        assert (bad.value.status, bad.value.code) == (400, "invalid_request")

        with pytest.raises(NotFoundError):
            airlock.tasks.files.read(str(uuid.uuid4()), "out.txt")

        # Any other route through request(): a plain agent is not an admin.
        with pytest.raises(ForbiddenError) as forbidden:
            airlock.request("GET", "/v1/admin/limits")
        assert forbidden.value.status == 403

    with Airlock(api_key="not-a-key", base_url=proxy.url) as stranger:
        with pytest.raises(UnauthorizedError) as unauthorized:
            stranger.tasks.list()
        assert (unauthorized.value.status, unauthorized.value.code) == (401, "unauthorized")


def test_no_answer_at_all_is_a_connection_error() -> None:
    # A port nothing listens on (the proxy's, closed, would do too): connect fails every try.
    with Airlock(base_url="http://127.0.0.1:9", max_retries=1, max_retry_delay_ms=10) as nowhere:
        with pytest.raises(ConnectionError) as err:
            nowhere.tasks.list()
    assert (err.value.status, err.value.code) == (0, "connection_failed")
    assert isinstance(err.value, OSError), "a builtin ConnectionError too"


def test_a_429_is_honoured_and_retried_with_the_same_idempotency_key(proxy: FaultProxy) -> None:
    proxy.reset_keys()
    proxy.arm("429", "/v1/tasks", "POST")
    with client(proxy) as airlock:
        started = time.monotonic()
        task = airlock.tasks.create("javascript", "1+1")
        assert time.monotonic() - started >= 0.95, "waited for Retry-After: 1"
    keys = proxy.keys()
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert QUOTED_UUID.match(keys[0]), f"a structured-field string holding a UUID: {keys[0]}"
    assert task["id"]

    # With no retries left the error says how long to wait.
    proxy.arm("429", "/v1/tasks", "POST")
    with client(proxy, max_retries=0) as airlock:
        with pytest.raises(RateLimitedError) as limited:
            airlock.tasks.create("javascript", "1")
    assert (limited.value.status, limited.value.code, limited.value.retry_after_ms) == (429, "quota_exceeded", 1000)


def test_a_503_is_retried_with_the_same_key_and_a_dropped_read_is_retried(proxy: FaultProxy) -> None:
    proxy.reset_keys()
    proxy.arm("503", "/v1/tasks", "POST")
    with client(proxy) as airlock:
        task = airlock.tasks.create("javascript", "1+1")
        keys = proxy.keys()
        assert len(keys) == 2 and keys[0] == keys[1]
        # A read whose answer is lost is simply asked again.
        proxy.arm("drop-after-answer", f"/v1/tasks/{task['id']}", "GET")
        assert airlock.tasks.get(task["id"])["id"] == task["id"]
        assert proxy.pending == 0
    proxy.arm("503", "/v1/runtimes", "GET")
    with client(proxy, max_retries=0) as airlock:
        with pytest.raises(UnavailableError) as unavailable:
            airlock.runtimes()
    assert (unavailable.value.code, unavailable.value.retry_after_ms) == ("temporarily_unavailable", 1000)


def test_a_connection_dropped_after_the_task_was_created_retries_into_the_same_task(proxy: FaultProxy) -> None:
    with client(proxy) as airlock:
        before = my_task_ids(airlock)
        proxy.reset_keys()
        proxy.arm("drop-after-answer", "/v1/tasks", "POST")
        task = airlock.run("1+1")
        assert proxy.pending == 0, "the first answer was dropped"
        keys = proxy.keys()
        assert len(keys) == 2, "the SDK retried"
        assert keys[0] == keys[1], "with the same key"
        assert task["status"] == "succeeded" and task["result"]["value"] == 2
        assert my_task_ids(airlock) - before == {task["id"]}, "exactly one task, the one answered"


def test_an_event_stream_cut_mid_task_resumes_with_last_event_id(proxy: FaultProxy) -> None:
    with client(proxy) as airlock:
        created = airlock.tasks.create("javascript", SLOW_LINES)
        proxy.arm("cut-stream-after-first-event", f"/v1/tasks/{created['id']}/events")
        ids = []
        output = ""
        last = ""
        for event in airlock.tasks.events(created["id"]):
            if event.id:
                ids.append(event.id)
            if event.event == "output":
                output += json.loads(event.data)["data"]
            if event.event == "status":
                last = json.loads(event.data)["status"]
        assert last == "succeeded"
        assert proxy.pending == 0, "the stream was cut once"
        assert proxy.last_event_ids(created["id"]) == [None, ids[0]], "resumed after the one event the cut stream carried"
        assert len(set(ids)) == len(ids), "no event twice"
        assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-"))), "in order"
        for i in range(5):
            assert f"line {i}" in output, f"line {i} arrived"


def test_cancel_stops_a_running_task_and_trace_lists_its_audit_entries(proxy: FaultProxy) -> None:
    with client(proxy) as airlock:
        created = airlock.tasks.create("javascript", "const t = Date.now(); while (Date.now() - t < 20000) {}", timeout_ms=30000)
        cancelled = airlock.tasks.cancel(created["id"])
        assert cancelled["id"] == created["id"]
        deadline = time.monotonic() + 15
        while airlock.tasks.get(created["id"])["status"] != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert airlock.tasks.get(created["id"])["status"] == "cancelled"
        # Cancelling a finished task answers it unchanged.
        assert airlock.tasks.cancel(created["id"])["status"] == "cancelled"
        trace = airlock.tasks.trace(created["id"])
        assert trace["taskId"] == created["id"]
        assert isinstance(trace["entries"], list)


def test_interrupting_run_cancels_the_task(proxy: FaultProxy) -> None:
    """Ctrl-C (a real SIGINT to this thread) while run() follows the events cancels the task."""
    with client(proxy) as airlock, client(proxy) as watcher:
        before = my_task_ids(airlock)
        begun = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        started: List[str] = []

        def interrupt_once_running() -> None:
            for _ in range(200):
                # Ours: created after run() began (tasks of earlier tests may still be running).
                running = [
                    t["id"] for t in watcher.tasks.list(status="running", limit=100)["items"]
                    if t["id"] not in before and t["createdAt"] >= begun
                ]
                if running:
                    started.extend(running)
                    break
                time.sleep(0.05)
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

        assert threading.current_thread() is threading.main_thread()
        thread = threading.Thread(target=interrupt_once_running)
        thread.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                airlock.run("const t = Date.now(); while (Date.now() - t < 20000) {}", timeout_ms=30000, wait=0)
        finally:
            thread.join()
        assert started, "the task started running"
        status = ""
        for _ in range(100):
            status = airlock.tasks.get(started[0])["status"]
            if status == "cancelled":
                break
            time.sleep(0.1)
        assert status == "cancelled", "the interrupt cancelled the task, long before its 20 s"


def test_a_stream_whose_credential_is_revoked_raises_unauthorized(proxy: FaultProxy) -> None:
    """The server's last word on a stream whose token was revoked is an `error` event: a 401."""
    with client(proxy) as airlock:
        # request(): a route the SDK does not name, idempotent POST; a 204 answers None.
        minted = airlock.request("POST", "/v1/tokens", json={"expiresInSeconds": 300}, idempotent=True)
        assert minted["tokenType"] == "task+jwt"
        with client(proxy, api_key=minted["token"]) as holder:
            created = holder.tasks.create("javascript", "const t = Date.now(); while (Date.now() - t < 8000) {}", wait=0)
            events = holder.tasks.events(created["id"])
            next(events)  # the stream is open
            assert airlock.request("DELETE", f"/v1/tokens/{minted['jti']}") is None
            started = time.monotonic()
            with pytest.raises(UnauthorizedError) as revoked:
                for _ in events:
                    pass
            assert revoked.value.code == "unauthorized"
            assert time.monotonic() - started < 5, "ended by the revocation, not by the task"
        airlock.tasks.cancel(created["id"])
