"""Fixtures for the SDK's tests against a real running Airlock.

`npm test` runs these from test/integration/sdk-python.test.ts, which starts a harness with a
runner and a fault-injecting loopback proxy (test/helpers/fault-proxy.ts) in front of it, and
passes them in the environment:

    AIRLOCK_URL            the harness itself
    AIRLOCK_API_KEY        an agent's key
    AIRLOCK_PROXY_URL      the proxy (every test client goes through it, so faults apply)
    AIRLOCK_PROXY_CONTROL  the proxy's control endpoint (arm a fault, read the keys it saw)
    AIRLOCK_ADMIN_KEY      the admin's key (tenant acme) for the admin, approval and audit routes
    AIRLOCK_PAYMENTS_URL   a loopback payments fixture the broker may call, and its
    AIRLOCK_PAYMENTS_KEY   secret (an irreversible capability on it needs an approval)
    AIRLOCK_CONTAINERS     "1" when the runner also runs containers (python) for tasks.files

Without them there is nothing to test against: every test is skipped, and the TS test that
runs this suite fails on skips.
"""
from __future__ import annotations

import json
import os
import urllib.request
from typing import Any, Dict, List, Optional

import pytest

NEEDED = (
    "AIRLOCK_URL", "AIRLOCK_API_KEY", "AIRLOCK_PROXY_URL", "AIRLOCK_PROXY_CONTROL",
    "AIRLOCK_ADMIN_KEY", "AIRLOCK_PAYMENTS_URL", "AIRLOCK_PAYMENTS_KEY",
)


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    missing = [name for name in NEEDED if not os.environ.get(name)]
    if missing and any(item.get_closest_marker("live") for item in items):
        skip = pytest.mark.skip(reason=f"no Airlock to test against ({', '.join(missing)} unset): run npm test")
        for item in items:
            if item.get_closest_marker("live"):
                item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "live: needs a running Airlock and the fault proxy")


class FaultProxy:
    """The proxy's control endpoint (plain urllib: the code under test is not used to test itself)."""

    def __init__(self, url: str, control: str) -> None:
        self.url = url
        self._control = control.rstrip("/")

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self._control + path, data=data, method=method, headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read())  # type: ignore[no-any-return]

    def arm(self, kind: str, path: str, method: Optional[str] = None) -> None:
        """The next request to `path` (and `method`) gets the fault: 429, 503, 409-in-flight, drop-after-answer or cut-stream-after-first-event."""
        self._call("POST", "/faults", {"kind": kind, "path": path, **({"method": method} if method else {})})

    @property
    def pending(self) -> int:
        return int(self._call("GET", "/faults")["pending"])

    def keys(self) -> List[str]:
        """The Idempotency-Key of each POST /v1/tasks the proxy saw since reset_keys()."""
        return list(self._call("GET", "/keys")["keys"])

    def reset_keys(self) -> None:
        self._call("DELETE", "/keys")

    def requests(self) -> List[str]:
        """``"<METHOD> <url>"`` of every request the proxy saw, in order."""
        return list(self._call("GET", "/requests")["requests"])

    def last_event_ids(self, task_id: str) -> List[Optional[str]]:
        """The Last-Event-ID (None: none) of each request for the task's event stream, in order."""
        url = f"/v1/tasks/{task_id}/events"
        return [s["lastEventId"] for s in self._call("GET", "/streams")["streams"] if s["url"] == url]


@pytest.fixture()
def proxy() -> FaultProxy:
    return FaultProxy(os.environ["AIRLOCK_PROXY_URL"], os.environ["AIRLOCK_PROXY_CONTROL"])


@pytest.fixture()
def admin_key() -> str:
    return os.environ["AIRLOCK_ADMIN_KEY"]


@pytest.fixture()
def api_key() -> str:
    return os.environ["AIRLOCK_API_KEY"]
