"""The SDK's TypedDicts and request bodies against the OpenAPI document the server serves now:
field names, which fields are required, and the enums, so the hand-written types cannot drift."""
from __future__ import annotations

import json
import os
import urllib.request
from typing import Any, Dict, Tuple, get_args

import pytest

from airlock import _types as t
from airlock._base import task_body

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def document() -> Dict[str, Any]:
    with urllib.request.urlopen(os.environ["AIRLOCK_URL"].rstrip("/") + "/openapi.json", timeout=10) as res:
        return json.loads(res.read())  # type: ignore[no-any-return]


def answer(document: Dict[str, Any], path: str, method: str = "get") -> Dict[str, Any]:
    return document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def keys(typed: Any) -> Tuple[set, set]:
    return set(typed.__required_keys__), set(typed.__optional_keys__)


def assert_same(typed: Any, schema: Dict[str, Any]) -> None:
    required, optional = keys(typed)
    assert required | optional == set(schema["properties"]), typed.__name__
    assert required == set(schema.get("required", [])), typed.__name__


def test_task_and_its_parts(document: Dict[str, Any]) -> None:
    task = answer(document, "/v1/tasks/{id}")
    assert_same(t.Task, task)
    p = task["properties"]
    assert_same(t.TaskLimits, p["limits"])
    assert_same(t.TaskMetadata, p["metadata"])
    assert_same(t.TaskResult, p["result"])
    assert_same(t.TaskError, p["error"])
    assert_same(t.TaskUsage, p["usage"])
    assert_same(t.OutputFile, p["result"]["properties"]["files"]["items"])
    assert_same(t.FileChange, p["result"]["properties"]["changes"]["items"])
    assert_same(t.PendingApproval, p["pendingApprovals"]["items"])
    assert set(get_args(t.TaskStatus)) == set(p["status"]["enum"])
    assert set(get_args(t.Runtime)) == set(p["runtime"]["enum"])


def test_lists(document: Dict[str, Any]) -> None:
    assert_same(t.TaskList, answer(document, "/v1/tasks"))
    runtimes = answer(document, "/v1/runtimes")
    assert_same(t.Runtimes, runtimes)
    assert_same(t.RuntimeInfo, runtimes["properties"]["runtimes"]["items"])


def test_create_body(document: Dict[str, Any]) -> None:
    body = document["paths"]["/v1/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    p = body["properties"]
    assert_same(t.FileInput, p["files"]["items"])
    assert_same(t.Mount, p["mounts"]["items"])
    # Every field of the API can be set through create()'s keywords (stdin as text or bytes).
    full = task_body(
        "javascript", "1", wait=1, timeout_ms=1, memory_mb=8, files={"a": b""}, args=[], mounts=[], capabilities=[], metadata={},
        callback_url="https://example.invalid/hook",
    )
    assert set(full) | {"stdin"} | set(task_body("bash", "", stdin=b"x")) == set(p)
