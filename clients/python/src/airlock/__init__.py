"""Python client of Airlock: run code written by AI agents in sandboxes.

>>> from airlock import Airlock
>>> with Airlock() as airlock:                      # AIRLOCK_API_KEY, AIRLOCK_URL
...     task = airlock.run("6 * 7", runtime="javascript")
"""
from ._async_client import AsyncAirlock, AsyncTaskFiles, AsyncTasks
from ._base import DEFAULT_BASE_URL, TERMINAL_STATUSES
from ._client import Airlock, TaskFiles, Tasks
from ._errors import (
    AirlockError,
    BadRequestError,
    ConflictError,
    ConnectionError,
    ForbiddenError,
    NotFoundError,
    Problem,
    RateLimitedError,
    UnauthorizedError,
    UnavailableError,
    error_from_problem,
)
from ._sse import SseEvent, SseParser
from ._types import (
    FileChange,
    FileInput,
    Mount,
    OutputFile,
    PendingApproval,
    Runtime,
    RuntimeInfo,
    Runtimes,
    Task,
    TaskError,
    TaskLimits,
    TaskList,
    TaskMetadata,
    TaskResult,
    TaskStatus,
    TaskUsage,
)

__version__ = "0.1.0"

__all__ = [
    "Airlock",
    "AsyncAirlock",
    "Tasks",
    "AsyncTasks",
    "TaskFiles",
    "AsyncTaskFiles",
    "DEFAULT_BASE_URL",
    "TERMINAL_STATUSES",
    "AirlockError",
    "BadRequestError",
    "UnauthorizedError",
    "ForbiddenError",
    "NotFoundError",
    "ConflictError",
    "RateLimitedError",
    "UnavailableError",
    "ConnectionError",
    "Problem",
    "error_from_problem",
    "SseEvent",
    "SseParser",
    "FileChange",
    "FileInput",
    "Mount",
    "OutputFile",
    "PendingApproval",
    "Runtime",
    "RuntimeInfo",
    "Runtimes",
    "Task",
    "TaskList",
    "TaskMetadata",
    "TaskResult",
    "TaskStatus",
    "TaskError",
    "TaskLimits",
    "TaskUsage",
]
