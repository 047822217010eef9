"""Shapes of the API's JSON, as TypedDicts: hints for editors and type checkers; at run time
they are plain dicts. Written by hand from /openapi.json; tests/test_schema.py compares every
one with the document the server serves (field names, which are required, enums), so they
cannot drift unnoticed."""
from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict

Runtime = Literal["javascript", "typescript", "python", "node", "bash"]
TaskStatus = Literal["queued", "running", "waiting_approval", "succeeded", "failed", "timed_out", "cancelled"]


class FileInput(TypedDict):
    path: str
    contentBase64: str


class Mount(TypedDict):
    grant: str
    path: str
    mode: Literal["ro", "rw"]


class TaskMetadata(TypedDict, total=False):
    userId: str
    promptSnippet: str
    sessionId: str


class TaskLimits(TypedDict):
    timeoutMs: int
    cpuMs: int
    memoryMb: int
    outputBytes: int


class OutputFile(TypedDict):
    path: str
    size: int
    sha256: str


class _TaskResultRequired(TypedDict):
    value: Any
    stdout: str
    stderr: str
    stdoutTruncated: bool
    stderrTruncated: bool


class _FileChangeRequired(TypedDict):
    grant: str
    path: str
    change: Literal["created", "modified", "deleted"]


class FileChange(_FileChangeRequired, total=False):
    """A change the task made in a mounted grant."""

    size: int
    sha256: str


class TaskResult(_TaskResultRequired, total=False):
    stdoutEncoding: Literal["base64"]
    stderrEncoding: Literal["base64"]
    exitCode: Optional[int]
    files: List[OutputFile]
    changes: List[FileChange]


class TaskError(TypedDict):
    code: str
    message: str


class _TaskRequired(TypedDict):
    id: str
    status: TaskStatus
    runtime: Runtime
    createdAt: str
    limits: TaskLimits
    metadata: TaskMetadata


class _TaskUsageRequired(TypedDict):
    wallMs: float
    cpuMs: float


class TaskUsage(_TaskUsageRequired, total=False):
    peakMemoryBytes: int


class _CompensationRequired(TypedDict):
    call: int
    of: str
    capability: str
    status: Literal["pending", "done", "failed"]
    attempts: int


class Compensation(_CompensationRequired, total=False):
    """The undo of one completed capability call of a task that failed, timed out or was cancelled."""

    error: TaskError
    finishedAt: str


class Task(_TaskRequired, total=False):
    startedAt: str
    finishedAt: str
    result: TaskResult
    error: TaskError
    usage: TaskUsage
    callbackUrl: str
    compensations: List[Compensation]


class TaskList(TypedDict):
    items: List[Task]
    nextCursor: Optional[str]


class _RuntimeInfoRequired(TypedDict):
    name: Runtime
    language: str
    backend: Literal["isolate", "container"]
    available: bool
    allowed: bool
    limits: Dict[str, Any]


class RuntimeInfo(_RuntimeInfoRequired, total=False):
    unavailableReason: str


class Runtimes(TypedDict):
    runtimes: List[RuntimeInfo]
