"""What the clients decide without a server: request bodies, Retry-After, errors by status."""
from __future__ import annotations

import base64
from email.utils import formatdate
from time import time

import pytest

from airlock import (
    AirlockError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
    error_from_problem,
)
from airlock._base import parse_retry_after, task_body


def test_task_body_speaks_the_api_s_field_names() -> None:
    body = task_body(
        "python", "print(1)", wait=5, timeout_ms=1000, memory_mb=64, files={"a.txt": "hé", "b.bin": b"\x00\xff"},
        stdin=b"\x01", args=["-v"], capabilities=["tickets.create"], metadata={"sessionId": "s"},
        mounts=[{"grant": "docs", "path": "/mnt/docs", "mode": "ro"}],
    )
    assert body == {
        "runtime": "python", "code": "print(1)", "wait": 5, "timeoutMs": 1000, "memoryMb": 64,
        "files": [
            {"path": "a.txt", "contentBase64": base64.b64encode("hé".encode()).decode()},
            {"path": "b.bin", "contentBase64": "AP8="},
        ],
        "stdinBase64": "AQ==", "args": ["-v"], "capabilities": ["tickets.create"], "metadata": {"sessionId": "s"},
        "mounts": [{"grant": "docs", "path": "/mnt/docs", "mode": "ro"}],
    }
    # Unset options are left out (the server's defaults apply); text stdin stays text.
    assert task_body("javascript", "1", stdin="x") == {"runtime": "javascript", "code": "1", "stdin": "x"}
    assert task_body("javascript", "1", files=[{"path": "p", "contentBase64": ""}])["files"] == [{"path": "p", "contentBase64": ""}]


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("2") == 2000
    assert parse_retry_after("0.5") == 500
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_ten = parse_retry_after(formatdate(time() + 10, usegmt=True))
    assert in_ten is not None and 8000 <= in_ten <= 10000
    assert parse_retry_after(formatdate(time() - 10, usegmt=True)) == 0


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (413, BadRequestError), (415, BadRequestError), (422, BadRequestError), (401, UnauthorizedError),
     (403, ForbiddenError), (404, NotFoundError), (409, ConflictError), (429, RateLimitedError), (503, UnavailableError),
     (500, AirlockError)],
)
def test_each_status_has_its_error_and_keeps_the_code(status: int, cls: type) -> None:
    problem = {"type": "about:blank", "title": "T", "status": status, "code": "some_code", "detail": "why"}
    err = error_from_problem(status, problem, 1500)
    assert type(err) is cls
    assert (err.status, err.code, err.problem, str(err)) == (status, "some_code", problem, "T: why (some_code)")
    bare = error_from_problem(status, None, None)
    assert type(bare) is cls and bare.status == status
    if status == 429:
        assert isinstance(err, RateLimitedError) and err.retry_after_ms == 1500
        assert isinstance(bare, RateLimitedError) and bare.retry_after_ms == 1000, "no Retry-After: a second"
