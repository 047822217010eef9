"""Shapes of the API's JSON (see /openapi.json), as TypedDicts: hints for editors and type
checkers; at run time they are plain dicts."""
from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict

Runtime = Literal["javascript", "typescript", "python", "node", "bash"]
TaskStatus = Literal["queued", "running", "succeeded", "failed", "timed_out", "cancelled"]


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


class TaskResult(_TaskResultRequired, total=False):
    stdoutEncoding: Literal["base64"]
    stderrEncoding: Literal["base64"]
    exitCode: Optional[int]
    files: List[OutputFile]
    changes: List[Dict[str, Any]]


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


class TaskUsage(TypedDict, total=False):
    wallMs: float
    cpuMs: float
    peakMemoryBytes: int


class Task(_TaskRequired, total=False):
    startedAt: str
    finishedAt: str
    result: TaskResult
    error: TaskError
    usage: TaskUsage


class TaskList(TypedDict):
    items: List[Task]
    nextCursor: Optional[str]


class RuntimeInfo(TypedDict, total=False):
    name: Runtime
    language: str
    backend: Literal["isolate", "container"]
    available: bool
    unavailableReason: str
    allowed: bool
    limits: Dict[str, Any]


class Runtimes(TypedDict):
    runtimes: List[RuntimeInfo]
