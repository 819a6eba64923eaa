"""structlog: JSON lines or readable lines (`SUMP_LOG_FORMAT`; unset, JSON in production); the request id on
every line.

Each record, its newline included, leaves the process in one `write(2)`: the workers of `sump serve` share
one output, and a record written in pieces (Python's streams write a record and its newline apart when
unbuffered, and cut what exceeds their 8 KiB buffers) interleaves with another worker's. The kernel keeps one
write whole in a regular file at any length, and in a pipe up to PIPE_BUF (4096 bytes on Linux).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic_core import to_json

from sump.kit.context import NO_REQUEST, request_id_var


@contextlib.contextmanager
def _hidden(module: str) -> Iterator[None]:
    """`import module` fails while this lasts, unless it is imported already (a None in `sys.modules`)."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        del sys.modules[module]


# structlog imports rich, when installed (typer installs it), for coloured output and rich tracebacks, which Sump
# never uses: imported without it, structlog takes its plain fallbacks, and no process loads rich and pygments.
with _hidden("rich"):
    import structlog

get_logger = structlog.get_logger  # for a module imported before this one (sump.cli): it imports structlog here


class LineWriter:
    """A structlog logger that writes each record as one line with one system call."""

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self.lock = threading.Lock()

    def msg(self, message: str) -> None:
        self.write((message + "\n").encode("utf-8", "backslashreplace"))

    def write(self, line: bytes) -> None:
        """Writes one whole record, its newline included."""
        with self.lock:
            try:
                fd = self.file.fileno()
            except (AttributeError, OSError, io.UnsupportedOperation):  # a stream without a descriptor
                self.file.write(line.decode("utf-8"))
                self.file.flush()
                return
            self.file.flush()  # what was printed before goes out before this record
            view = memoryview(line)
            while view:  # one write, unless the kernel takes only a part (a full pipe, a signal)
                view = view[os.write(fd, view) :]

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def _line_writer(*_: Any) -> LineWriter:
    return LineWriter(sys.stderr)


class _Output:
    json_lines = False
    writer: LineWriter | None = None

    def line_writer(self) -> LineWriter:
        if self.writer is None or self.writer.file is not sys.stderr:
            self.writer = LineWriter(sys.stderr)
        return self.writer


_output = _Output()
_access = structlog.get_logger("sump.access")


def access_line(method: str, path: str, status: int, ms: float, ip: str, request_id: str) -> None:
    """The access log's one line per request. In production it is rendered here, once, by a compiled JSON
    encoder, with the fields and the shape the structlog pipeline gives every other record (`request_id`,
    `level`, `timestamp`); in development it goes through structlog's readable renderer."""
    if not _output.json_lines:
        _access.info("request", method=method, path=path, status=status, ms=ms, ip=ip, request_id=request_id)
        return
    record = {
        "method": method,
        "path": path,
        "status": status,
        "ms": ms,
        "ip": ip,
        "event": "request",
        "request_id": request_id,
        "level": "info",
        "timestamp": datetime.now(UTC),  # written as the other records' (ISO 8601, `Z`) by the encoder itself
    }
    _output.line_writer().write(to_json(record) + b"\n")


def _request_id(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A record logged while a request is served names it: the request id the edge set (`kit.edge`), read here
    when a record is made rather than bound for every request."""
    request_id = request_id_var.get()
    if request_id != NO_REQUEST:
        event.setdefault("request_id", request_id)
    return event


def configure_logging(json_lines: bool, level: int = logging.INFO) -> None:
    """Tracebacks are plain: a rich one would print local variables, request headers and their secrets."""
    _output.json_lines = json_lines
    processors: list[structlog.typing.Processor] = [
        _request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if json_lines else structlog.dev.set_exc_info,
    ]
    plain = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    renderer: structlog.typing.Processor = structlog.processors.JSONRenderer() if json_lines else plain
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_line_writer,
        cache_logger_on_first_use=True,
    )
