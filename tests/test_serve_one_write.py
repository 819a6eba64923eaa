"""A response of `sump serve` leaves in one write: uvicorn's head and body, written by two calls, go out together."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.server import ServerState

from sump.serving import UVICORN_OPTIONS, OneWriteHttp

CLOSED = b"<closed>"


class Wire(asyncio.Transport):
    """What the protocol hands the socket: each write, and the close, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[bytes] = []
        self.closing = False

    def write(self, data: Any) -> None:
        assert not self.closing, "written after the close"
        self.events.append(bytes(data))

    def close(self) -> None:
        self.closing = True
        self.events.append(CLOSED)

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


answered = asyncio.Event()


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    parts = [b"one", b"two"] if scope["path"] == "/stream" else [b'{"ok":true}']
    headers = [] if len(parts) > 1 else [(b"content-type", b"application/json"), (b"content-length", b"11")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for n, part in enumerate(parts, 1):
        await send({"type": "http.response.body", "body": part, "more_body": n < len(parts)})
        await asyncio.sleep(0)  # a stream's next part comes in a later turn of the event loop
    answered.set()


async def served(request: bytes) -> list[bytes]:
    config = uvicorn.Config(answer, http=OneWriteHttp, lifespan="off", access_log=False, server_header=False)
    protocol = OneWriteHttp(config, ServerState(), {}, asyncio.get_running_loop())
    wire = Wire()
    protocol.connection_made(wire)
    answered.clear()
    protocol.data_received(request)
    await answered.wait()
    await asyncio.sleep(0)  # one more turn of the event loop: what was held for it has gone out
    events = list(wire.events)
    protocol.connection_lost(None)
    return events


def test_sump_serve_answers_with_it() -> None:
    config = uvicorn.Config(answer, http=UVICORN_OPTIONS["http"])
    config.load()
    assert config.http_protocol_class is OneWriteHttp


async def test_a_response_is_one_write_of_its_head_and_body() -> None:
    events = await served(b"GET / HTTP/1.1\r\nHost: sump\r\n\r\n")
    assert len(events) == 1
    head, body = events[0].split(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 11" in head
    assert body == b'{"ok":true}'


async def test_a_closing_response_is_written_whole_before_the_close() -> None:
    events = await served(b"GET / HTTP/1.1\r\nHost: sump\r\nConnection: close\r\n\r\n")
    assert len(events) == 2
    assert events[1] == CLOSED
    assert events[0].endswith(b'\r\n\r\n{"ok":true}')


async def test_a_stream_goes_out_part_by_part_in_order() -> None:
    """Only a write's next one in the same turn joins it: a stream's later parts are not held back."""
    events = await served(b"GET /stream HTTP/1.1\r\nHost: sump\r\n\r\n")
    written = b"".join(event for event in events if event != CLOSED)
    assert written.endswith(b"\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n")
    assert len(events) == 2  # the head with the first part, then the last part with the stream's end


def test_a_real_connection_gets_the_whole_answer() -> None:
    """Over a socket: the bytes that leave are the answer, whole, however they were joined."""

    async def main() -> bytes:
        config = uvicorn.Config(answer, **{**UVICORN_OPTIONS, "factory": False, "lifespan": "off"})
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        listener = socket.create_server(("127.0.0.1", 0))
        await server.startup(sockets=[listener])
        reader, writer = await asyncio.open_connection(*listener.getsockname())
        writer.write(b"GET / HTTP/1.1\r\nHost: sump\r\nConnection: close\r\n\r\n")
        received = await reader.read()
        writer.close()
        await server.shutdown(sockets=[listener])
        return received

    received = asyncio.run(main())
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b'\r\n\r\n{"ok":true}')
