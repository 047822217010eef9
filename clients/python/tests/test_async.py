"""The asyncio client against a real Airlock: the same behaviour as the sync one (run, get,
list, typed errors, one task after a dropped connection, a resumed stream)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
import json
import uuid
from typing import List

import pytest

from airlock import AsyncAirlock, BadRequestError, NotFoundError, UnauthorizedError

from conftest import FaultProxy

pytestmark = pytest.mark.live


def test_async_run_get_list(proxy: FaultProxy) -> None:
    async def main() -> None:
        async with AsyncAirlock(base_url=proxy.url) as airlock:
            task = await airlock.run("1+1", runtime="javascript")
            assert task["status"] == "succeeded"
            assert task["result"]["value"] == 2
            assert (await airlock.tasks.get(task["id"]))["id"] == task["id"]
            assert task["id"] in {t["id"] for t in (await airlock.tasks.list(limit=5))["items"]}
            assert any(r["name"] == "javascript" for r in (await airlock.runtimes())["runtimes"])
            # Several calls at once on one client.
            values = [t["result"]["value"] for t in await asyncio.gather(*(airlock.run(f"{i} * 2") for i in range(3)))]
            assert values == [0, 2, 4]

    asyncio.run(main())


def test_async_typed_errors(proxy: FaultProxy) -> None:
    async def main() -> None:
        async with AsyncAirlock(base_url=proxy.url) as airlock:
            with pytest.raises(NotFoundError) as not_found:
                await airlock.tasks.get(str(uuid.uuid4()))
            assert not_found.value.code == "not_found"
            with pytest.raises(BadRequestError) as bad:
                await airlock.tasks.create("javascript", "1", timeout_ms=10**9)
            assert bad.value.code == "invalid_request"
        async with AsyncAirlock(api_key="not-a-key", base_url=proxy.url) as stranger:
            with pytest.raises(UnauthorizedError):
                await stranger.tasks.list()

    asyncio.run(main())


def test_async_dropped_connection_and_429_use_one_key_and_make_one_task(proxy: FaultProxy) -> None:
    async def main() -> None:
        async with AsyncAirlock(base_url=proxy.url) as airlock:
            before = {t["id"] for t in (await airlock.tasks.list(limit=100))["items"]}
            proxy.reset_keys()
            proxy.arm("429", "/v1/tasks", "POST")
            proxy.arm("drop-after-answer", "/v1/tasks", "POST")
            task = await airlock.tasks.create("javascript", "1+1")
            assert proxy.pending == 0
            keys = proxy.keys()
            assert len(keys) == 3 and len(set(keys)) == 1, keys
            after = {t["id"] for t in (await airlock.tasks.list(limit=100))["items"]}
            assert after - before == {task["id"]}

    asyncio.run(main())


def test_cancelling_async_run_cancels_the_task(proxy: FaultProxy) -> None:
    async def main() -> None:
        async with AsyncAirlock(base_url=proxy.url) as airlock:
            before = {t["id"] for t in (await airlock.tasks.list(limit=100))["items"]}
            busy = "const t = Date.now(); while (Date.now() - t < 20000) {}"
            begun = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            # wait=0: run() follows the events at once (during a create's wait the id is unknown).
            runner = asyncio.ensure_future(airlock.run(busy, timeout_ms=30000, wait=0))
            started = None
            for _ in range(200):
                # Ours: created after run() began (tasks of earlier tests may still be running).
                running = [
                    t for t in (await airlock.tasks.list(status="running", limit=100))["items"]
                    if t["id"] not in before and t["createdAt"] >= begun
                ]
                if running:
                    started = running[0]["id"]
                    break
                await asyncio.sleep(0.05)
            assert started, "the task started running"
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
            status = ""
            for _ in range(100):
                status = (await airlock.tasks.get(started))["status"]
                if status == "cancelled":
                    break
                await asyncio.sleep(0.1)
            assert status == "cancelled", "cancelling run() cancelled the task, long before its 20 s"

    asyncio.run(main())


def test_async_event_stream_resumes(proxy: FaultProxy) -> None:
    async def main() -> None:
        async with AsyncAirlock(base_url=proxy.url) as airlock:
            code = 'for (let i = 0; i < 4; i++) { console.log("line " + i); const t = Date.now(); while (Date.now() - t < 60) {} }'
            created = await airlock.tasks.create("javascript", code)
            proxy.arm("cut-stream-after-first-event", f"/v1/tasks/{created['id']}/events")
            ids: List[str] = []
            output = ""
            async for event in airlock.tasks.events(created["id"]):
                if event.id:
                    ids.append(event.id)
                if event.event == "output":
                    output += json.loads(event.data)["data"]
            assert proxy.pending == 0
            assert proxy.last_event_ids(created["id"]) == [None, ids[0]]
            assert len(set(ids)) == len(ids)
            assert all(f"line {i}" in output for i in range(4))

    asyncio.run(main())
