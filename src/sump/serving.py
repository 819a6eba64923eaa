"""`sump serve`: uvicorn, in one process or in several worker processes.

With several workers, each listens on its own socket bound to the same address (`SO_REUSEPORT`), and the
kernel spreads new connections over them by their addresses. With one shared socket, as uvicorn's own worker
mode has, the first worker to wake accepts a whole burst of connections: it then carries all of their
sign-ins on its hashing threads while the other workers idle, and refuses what does not fit.

The supervisor imports the application once and forks its workers from that: a worker, first or replacement,
starts without importing anything, so it serves within a fraction of a second even on a busy machine (a
spawned worker spent seconds importing, and every worker did it again). The supervisor runs no thread, event
loop, engine or hasher, so a fork copies nothing that a worker could not use.

The workers' metrics add up in one scrape: each run has a directory of its own for prometheus-client's
per-process files, named before any metric is made, removed at the end, and the supervisor takes a
dead worker's gauges out of the sum (`metrics_directory`, `kit.metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import functools
import gc
import importlib
import multiprocessing
import os
import select
import shutil
import signal
import socket
import struct
import tempfile
import termios
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sump.config import Settings

APP = "sump.app:create_app"
# What the application imports on first use (the console and the hosted pages, `sump.kit.lazy_app`): imported by
# the supervisor, so forked workers share one copy of it and a worker's first console page does not import it.
SHARED_BEFORE_FORK = ("sump.console.app", "sump.hosted.app")
GRACEFUL_SHUTDOWN_SECONDS = 20
START_ATTEMPTS = 4  # starts in a row that end before serving, in every place, before the server gives up
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 10.0
IDLE_LINGER_SECONDS = 0.2  # after a stop signal, idle kept-alive connections may still bring a request
ACCEPT_DRAIN_SECONDS = 2.0  # at most, to accept the connections already queued on a stopping worker's socket
SO_ATTACH_FILTER = 26  # socket(7), Linux
DROP_EVERY_PACKET = struct.pack("HBBI", 0x06, 0, 0, 0)  # classic BPF: BPF_RET | BPF_K, 0 bytes kept
PR_SET_PDEATHSIG = 1  # prctl(2)
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
# prometheus-client's multi-process mode: read when it is first imported, which `kit.metrics` does on first use.
METRICS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
UVICORN_OPTIONS: dict[str, Any] = {
    "factory": True,
    "http": "sump.serving:OneWriteHttp",
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    "log_level": "warning",
}
log = structlog.get_logger("sump.serve")
EVENT_LOOP_BOOST = 5  # nice steps: a weight about three times the hashing threads' (`favour_event_loop`)


def serve(settings: Settings, host: str, port: int, workers: int) -> int:
    """Serves until SIGTERM or SIGINT, lets requests in flight finish, and returns the exit status."""
    if settings.password_threads is None:
        # One hashing thread per core in all: more only makes the hashes take turns and evict each other's
        # memory from the caches. Worker processes read their settings from the environment.
        os.environ["SUMP_PASSWORD_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    if workers == 1:
        _Server(uvicorn.Config(APP, host=host, port=port, **UVICORN_OPTIONS)).run()
        return 0
    if not _address_is_free(host, port):
        log.error("address in use", host=host, port=port)
        return 1
    with metrics_directory():
        from sump.kit import passwords, shared_counters  # here: `sump serve` with one worker has no use for them

        importlib.import_module(APP.split(":")[0])  # once, here: every worker is forked with it imported
        for module in SHARED_BEFORE_FORK:
            importlib.import_module(module)
        if settings.argon2_engine == "auto":
            passwords.engine()  # measured once, here: every worker hashes with the engine chosen
        collect_garbage_from_now_on()  # before the fork: the workers' collections leave the shared pages alone
        # The workers count rate limits and lockouts together, in one file of the machine (unless Redis keeps them).
        with shared_counters.for_workers(settings.redis_url) as counters:
            return _Supervisor(host, port, workers, functools.partial(_worker, counters=counters)).run()


@contextlib.contextmanager
def metrics_directory() -> Iterator[Path]:
    """A new, empty directory for this run's metrics: each worker writes its values to memory-mapped files
    there, and the one that answers a scrape adds up the files of all (prometheus-client's multi-process mode).
    A fresh directory per run, so no value of an earlier run is counted; removed when the server stops."""
    directory = Path(tempfile.mkdtemp(prefix="sump-metrics-"))
    os.environ[METRICS_DIRECTORY] = str(directory)
    try:
        yield directory
    finally:
        del os.environ[METRICS_DIRECTORY]
        shutil.rmtree(directory, ignore_errors=True)


def _forget_gauges(pid: int) -> None:
    """A dead worker's gauges (places held, connections in use) leave the sum; its counters and histograms
    stay, so totals never go back."""
    if os.environ.get(METRICS_DIRECTORY):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


YOUNG_COLLECTION = 10_000  # net allocations of tracked objects between two youngest collections (Python: 700)


def collect_garbage_from_now_on() -> None:
    """`sump serve` starts with the garbage collector off: start-up makes some 180,000 objects that live as long
    as the process and frees almost none, and collections scanned them over and over (about 0.2 s of CPU). Here,
    with the application built, they are frozen (later collections skip them, and forked workers do not write
    to the pages they share) and collection resumes. Nothing is done where the collector was on.

    The youngest generation is collected after `YOUNG_COLLECTION` net allocations instead of 700: at 700, each
    collection caught the objects of the requests in flight and moved them on, and the oldest generation filled
    with them, so full collections (about 8 ms of CPU each, up to 27) ran every second under load and held every
    request in flight: they were the admin list's p99 (docs/performance.md)."""
    if not gc.isenabled():
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])
        gc.enable()


def _address_is_free(host: str, port: int) -> bool:
    """Bound without SO_REUSEPORT, so another server on the port, SO_REUSEPORT or not, makes this fail: two
    `sump serve` on one port would otherwise share its connections without a word."""
    family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return False
    return True


def _listening_socket(host: str, port: int) -> socket.socket:
    family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(address)
    return listener  # uvicorn listens once the application has started: only then does the kernel send it any


def _stop_with_supervisor() -> None:
    """Linux: the kernel sends this worker SIGTERM when the supervisor dies, even by SIGKILL, so no orphan goes
    on serving the address (elsewhere, the supervisor's own signals still stop the workers)."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    supervisor = multiprocessing.parent_process()
    if supervisor is not None and os.getppid() != supervisor.pid:
        raise SystemExit(0)  # it died before the line above


def favour_event_loop() -> None:
    """Raises this thread's priority (the worker's event loop; a Linux nice value is per thread) by
    `EVENT_LOOP_BOOST` above the hashing threads' and any other process's at the same nice value, where the
    system permits it (root, `CAP_SYS_NICE`, or an `RLIMIT_NICE` that allows it). Under a flood of sign-ins the
    hashing threads still keep every core busy, and session checks and refusals no longer wait behind them for
    a core; without the permission the priority stays, and the worker says so once."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) - EVENT_LOOP_BOOST)
    except PermissionError:
        log.info("event loop priority kept", fix="allow CAP_SYS_NICE or an RLIMIT_NICE to favour the event loop")


class _Server(uvicorn.Server):
    """uvicorn that ends a graceful stop with status 0, heeds a stop signal that came before it served, tells the
    supervisor (`ready`) once the application has started and the socket is served, and stops without failing
    a request (`shutdown`)."""

    def __init__(self, config: uvicorn.Config, ready: EventType | None = None) -> None:
        super().__init__(config)
        self.ready = ready
        self.early_signals: list[int] = []
        self.closing: _CloseWhenDraining | None = None

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn takes SIGTERM and SIGINT over while it serves and drains, then raises the signal again; it
        # comes back here, so a graceful stop returns normally, and one that came first is remembered.
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, lambda signum, _: self.early_signals.append(signum))
        super().run(sockets=sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        favour_event_loop()  # the application is loaded: its hashing threads keep their priority
        self.closing = _CloseWhenDraining(self.config.loaded_app)
        self.config.loaded_app = self.closing  # what each connection's protocol runs
        await super().startup(sockets)
        collect_garbage_from_now_on()
        if self.early_signals:
            self.should_exit = True
        elif self.started and self.ready is not None:
            self.ready.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """A stop that fails no request and resets no connection. uvicorn's own closes its listening socket at
        once, which resets the connections the kernel has queued on it, and closes idle kept-alive connections
        at once, which resets one whose next request has arrived but is not read yet.

        Here the listening sockets first stop taking handshakes (a client's SYN goes unanswered; it is sent again
        and then refused, or taken by another server on the address), the connections already queued are
        accepted, and only then are the sockets closed. From then on every response says `Connection: close`:
        a request in flight is finished, an idle connection is closed unless a request waits on it unread (that
        one is answered first), and the server exits once every connection is done."""
        listeners = [listener.fileno() for server in self.servers for listener in server.sockets]
        if self.closing is not None:
            self.closing.draining = True
        for fd in listeners:
            _refuse_handshakes(fd)
        deadline = time.monotonic() + ACCEPT_DRAIN_SECONDS
        # The event loop accepts what is queued; no event says when the queue is empty, the socket's readiness does.
        while listeners and select.select(listeners, [], [], 0)[0] and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
        for server in self.servers:
            server.close()
        for listener in sockets or []:
            listener.close()
        await self._close_connections()
        try:
            await asyncio.wait_for(self._wait_tasks_to_complete(), timeout=self.config.timeout_graceful_shutdown)
        except TimeoutError:
            log.error("graceful stop timed out, cancelling requests", requests=len(self.server_state.tasks))
            for task in self.server_state.tasks:
                task.cancel(msg="graceful stop timed out")
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def _close_connections(self) -> None:
        if self.server_state.connections:
            await asyncio.sleep(IDLE_LINGER_SECONDS)  # a request already on its way is answered, with close
        for connection in list(self.server_state.connections):
            if not _unread_bytes(connection.transport):
                connection.shutdown()  # idle: closed now; busy: closed once its response is sent
            # else its request is read next, answered with `Connection: close`, and the connection closed


class OneWriteHttp(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools), whose response leaves in one system call and one TCP segment.

    uvicorn writes a response's head and its body by two calls, each a `send` of its own: for a small answer (a
    session check, a refusal) the second costs the server a system call and the network stack a segment, and the
    client a second wake-up. Here the head waits for the body, within the same turn of the event loop."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneWrite(transport, self.loop))  # type: ignore[arg-type]


class _OneWrite:
    """A transport whose first write waits for the next one (or the event loop's next turn) and leaves with it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _CloseWhenDraining:
    """ASGI: once the server drains, every response says `Connection: close` (and uvicorn closes after it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.draining = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.draining or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


def _refuse_handshakes(fd: int) -> None:
    """Linux: a socket filter that drops every packet makes a listening socket ignore new handshakes, while
    the connections already in its accept queue stay there to be accepted."""
    program = ctypes.create_string_buffer(DROP_EVERY_PACKET)
    fprog = struct.pack("HL", 1, ctypes.addressof(program))  # struct sock_fprog
    with socket.socket(fileno=os.dup(fd)) as listener, contextlib.suppress(OSError):
        listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _unread_bytes(transport: Any) -> int:
    """Bytes received on a connection that the server has not read yet (FIONREAD)."""
    try:
        fd = transport.get_extra_info("socket").fileno()
        return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])
    except (AttributeError, OSError, ValueError):
        return 0


def _worker(host: str, port: int, ready: EventType, counters: Path | None = None) -> None:
    """One worker process: its own listening socket on the shared address, then uvicorn on it; its rate-limit
    and lockout counters are those of the `counters` file, which every worker of the server shares."""
    from sump.kit import shared_counters

    # Forked with the supervisor's signal handlers and with stop signals blocked (`_Supervisor._start`): until
    # uvicorn takes them over, a stop signal ends a worker that is not serving yet, as it would a new process.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _stop_with_supervisor()
    shared_counters.attach(counters)
    _Server(uvicorn.Config(APP, **UVICORN_OPTIONS), ready).run([_listening_socket(host, port)])


class _Supervisor:
    """Starts the workers and replaces one that dies. One that dies after it was serving is replaced at once;
    one that dies before it served (killed while starting, a crash at start-up) is tried again after a pause
    that doubles from RETRY_FIRST_SECONDS up to RETRY_MAX_SECONDS, while the others serve. Only when no worker
    can start at all (each one failed START_ATTEMPTS times in a row and none serves) does the server stop, with
    status 1. On SIGTERM or SIGINT it passes SIGTERM to each worker and waits while they drain."""

    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        target: Callable[[str, int, EventType], None],
        stop_timeout: float = GRACEFUL_SHUTDOWN_SECONDS + 5,
    ) -> None:
        self.host, self.port, self.count, self.target = host, port, workers, target
        self.stop_timeout = stop_timeout  # from the stop signal until workers still running are killed
        self.context = multiprocessing.get_context("fork")
        self.workers: dict[int, tuple[BaseProcess, EventType]] = {}
        self.slot_of: dict[int, int] = {}  # worker pid → its place, 0 … workers - 1
        self.failures = [0] * workers  # starts in a row that ended before serving, per place
        self.pending: dict[int, float] = {}  # place → when its next worker starts
        self.stopping = False
        self.deadline = 0.0  # when workers still running after a stop are killed
        self.signalled: set[int] = set()

    def run(self) -> int:
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, self._stop)
        for slot in range(self.count):
            self._start(slot)
        status = 0
        while not self.stopping:
            # Wakes when a worker exits, when a pause ends, and at least twice a second to see a stop signal's flag.
            now = time.monotonic()
            pause = min([0.5, *(max(0.0, when - now) for when in self.pending.values())])
            wait([process.sentinel for process, _ in self.workers.values()], timeout=pause)
            if self._reap():
                log.error(
                    "no worker could start: each failed before serving, stopping",
                    workers=self.count,
                    attempts=START_ATTEMPTS,
                )
                status = 1
                self._stop(signal.SIGTERM, None)
            now = time.monotonic()
            for slot, when in list(self.pending.items()):
                if when <= now and not self.stopping:
                    del self.pending[slot]
                    self._start(slot)
        return self._join() or status

    def _reap(self) -> bool:
        """Schedules a new worker in the place of each that exited; True when none can start at all."""
        for pid, (process, ready) in list(self.workers.items()):
            slot = self.slot_of[pid]
            if ready.is_set():
                self.failures[slot] = 0
            if self.stopping or process.is_alive():
                continue
            del self.workers[pid], self.slot_of[pid]
            _forget_gauges(pid)
            if ready.is_set():
                log.error("worker exited", pid=pid, exitcode=process.exitcode, was_serving=True)
                self.pending[slot] = time.monotonic()
                continue
            self.failures[slot] += 1
            retry = min(RETRY_FIRST_SECONDS * 2 ** (self.failures[slot] - 1), RETRY_MAX_SECONDS)
            log.error(
                "worker failed to start",
                pid=pid,
                exitcode=process.exitcode,
                attempt=self.failures[slot],
                retry_in_seconds=retry,
            )
            self.pending[slot] = time.monotonic() + retry
            serving = any(ready.is_set() for _, ready in self.workers.values())
            if not serving and min(self.failures) >= START_ATTEMPTS:
                return True
        return False

    def _start(self, slot: int) -> None:
        ready = self.context.Event()
        process = self.context.Process(target=self.target, args=(self.host, self.port, ready), name="sump-worker")
        # Stop signals wait while the worker is forked: one that came in between would run the supervisor's
        # handler in the worker, which would stop its siblings.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        assert process.pid is not None
        self.workers[process.pid] = (process, ready)
        self.slot_of[process.pid] = slot

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM to each worker, once: a second one could reach it while Python exits, and kill it."""
        if not self.stopping:
            self.stopping = True
            self.deadline = time.monotonic() + self.stop_timeout
        for pid, (process, _) in list(self.workers.items()):
            if pid not in self.signalled:
                self.signalled.add(pid)
                process.terminate()  # nothing if it has already exited

    def _join(self) -> int:
        """Waits for every worker (they drain first), kills what outlives the grace period; 1 if any failed.
        A worker stopped while Python was still starting dies of the SIGTERM itself, which is no failure."""
        self._stop(signal.SIGTERM, None)  # for a worker started while the signal was being handled
        status = 0
        for process, ready in self.workers.values():
            process.join(max(0.0, self.deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
            if process.exitcode != 0 and not (process.exitcode == -signal.SIGTERM and not ready.is_set()):
                log.error("worker did not stop cleanly", pid=process.pid, exitcode=process.exitcode)
                status = 1
        return status
