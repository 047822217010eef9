"""Errors the SDK raises.

An answer that is an RFC 9457 problem becomes an :class:`AirlockError` (or a subclass chosen by
status) carrying the problem's stable ``code``: branch on ``code``, not on the message.
"""
from __future__ import annotations

import builtins
from typing import Any, Dict, Optional

Problem = Dict[str, Any]
"""The problem body: ``type``, ``title``, ``status``, ``code``, ``detail?`` and extensions."""


class AirlockError(Exception):
    """A problem answer from Airlock (or, as :class:`ConnectionError`, no answer at all)."""

    status: int
    """HTTP status (0 when no answer arrived)."""
    code: str
    """The problem's stable code, e.g. ``not_found``, ``quota_exceeded``, ``policy_denied``."""
    problem: Optional[Problem]
    """The whole problem body, extensions included."""

    def __init__(self, message: str, status: int, code: str, problem: Optional[Problem] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.problem = problem

    def __str__(self) -> str:
        return self.message


class BadRequestError(AirlockError):
    """400, 413, 415, 422: the request is wrong; retrying it unchanged will not help."""


class UnauthorizedError(AirlockError):
    """401: no valid credential (also a credential revoked while an event stream was open)."""


class ForbiddenError(AirlockError):
    """403: the credential is valid but may not do this (policy, role, scope)."""


class NotFoundError(AirlockError):
    """404: no such task (or route, or file), or not yours."""


class ConflictError(AirlockError):
    """409: e.g. ``already_exists``."""


class RateLimitedError(AirlockError):
    """429: a quota is used up. Wait ``retry_after_ms`` (the SDK already retried ``max_retries`` times)."""

    retry_after_ms: float

    def __init__(self, message: str, problem: Optional[Problem], retry_after_ms: float) -> None:
        super().__init__(message, 429, (problem or {}).get("code", "quota_exceeded"), problem)
        self.retry_after_ms = retry_after_ms


class UnavailableError(AirlockError):
    """503 (Redis, a runner or the audit log unavailable) after the SDK's retries."""

    retry_after_ms: Optional[float]

    def __init__(self, message: str, problem: Optional[Problem], retry_after_ms: Optional[float] = None) -> None:
        super().__init__(message, 503, (problem or {}).get("code", "temporarily_unavailable"), problem)
        self.retry_after_ms = retry_after_ms


class ConnectionError(AirlockError, builtins.ConnectionError):  # noqa: A001 - the SDK's name for it
    """No answer: the connection failed or dropped (after the SDK's retries).

    Also a builtin :class:`ConnectionError`, so ``except ConnectionError`` written for the
    standard library catches it too. The transport's exception is ``__cause__``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, 0, "connection_failed")


def error_from_problem(status: int, problem: Optional[Problem], retry_after_ms: Optional[float]) -> AirlockError:
    """The error for a problem answer (``problem`` None when the body was not a problem)."""
    code = problem["code"] if problem else f"http_{status}"
    if problem:
        detail = problem.get("detail")
        message = f"{problem.get('title', 'Error')}{': ' + str(detail) if detail else ''} ({code})"
    else:
        message = f"HTTP {status}"
    if status in (400, 413, 415, 422):
        return BadRequestError(message, status, code, problem)
    if status == 401:
        return UnauthorizedError(message, status, code, problem)
    if status == 403:
        return ForbiddenError(message, status, code, problem)
    if status == 404:
        return NotFoundError(message, status, code, problem)
    if status == 409:
        return ConflictError(message, status, code, problem)
    if status == 429:
        return RateLimitedError(message, problem, retry_after_ms if retry_after_ms is not None else 1000.0)
    if status == 503:
        return UnavailableError(message, problem, retry_after_ms)
    return AirlockError(message, status, code, problem)
