"""A minimal Server-Sent Events parser (WHATWG HTML §9.2): ``id``, ``event`` and ``data`` lines."""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import List, Optional

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SseEvent:
    """One event of a task's stream: ``status`` or ``output`` (``data`` is JSON text), or ``error``."""

    id: Optional[str]
    event: str
    data: str


class SseParser:
    """Turns the bytes of a stream, fed chunk by chunk, into events (dispatched at each blank line)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._id: Optional[str] = None
        self._event = ""
        self._data: List[str] = []

    def feed(self, chunk: bytes) -> List[SseEvent]:
        self._buffer += self._decoder.decode(chunk)
        events: List[SseEvent] = []
        while True:
            m = _LINE_END.search(self._buffer)
            # A lone "\r" at the end may be the first half of "\r\n": wait for more.
            if m is None or (m.group() == "\r" and m.end() == len(self._buffer)):
                return events
            line = self._buffer[: m.start()]
            self._buffer = self._buffer[m.end():]
            if line == "":
                if self._data:
                    events.append(SseEvent(self._id, self._event or "message", "\n".join(self._data)))
                self._event = ""
                self._data = []
                continue
            if line.startswith(":"):
                continue
            field, sep, value = line.partition(":")
            if sep and value.startswith(" "):
                value = value[1:]
            if field == "data":
                self._data.append(value)
            elif field == "event":
                self._event = value
            elif field == "id" and "\0" not in value:
                self._id = value
