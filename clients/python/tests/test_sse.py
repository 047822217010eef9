"""The SSE parser on its own (no server): framing the event streams a proxy may split anywhere."""
from __future__ import annotations

from airlock import SseEvent, SseParser


def feed_all(chunks: list[bytes]) -> list[SseEvent]:
    parser = SseParser()
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test_events_with_ids_types_and_multiline_data() -> None:
    stream = b'id: 1-0\nevent: status\ndata: {"status":"running"}\n\n: keep-alive\n\nid: 1-1\nevent: output\ndata: a\ndata: b\n\n'
    assert feed_all([stream]) == [
        SseEvent("1-0", "status", '{"status":"running"}'),
        SseEvent("1-1", "output", "a\nb"),
    ]


def test_split_anywhere_even_inside_crlf_and_utf8() -> None:
    stream = "id: 7-0\r\nevent: output\r\ndata: héllo ✓\r\n\r\n".encode()
    for cut in range(1, len(stream)):
        assert feed_all([stream[:cut], stream[cut:]]) == [SseEvent("7-0", "output", "héllo ✓")], cut


def test_bare_cr_line_ends_and_defaults() -> None:
    # No event field: "message". The id persists to later events (WHATWG last event ID). A final
    # "\r" may be half of "\r\n", so it counts once the next byte arrives (here a comment).
    assert feed_all([b"id: 9-0\rdata: x\r\rdata: y\r\r", b": more"]) == [SseEvent("9-0", "message", "x"), SseEvent("9-0", "message", "y")]


def test_an_event_not_yet_ended_by_a_blank_line_is_not_dispatched() -> None:
    assert feed_all([b"id: 1-0\nevent: status\ndata: {}\n"]) == []
