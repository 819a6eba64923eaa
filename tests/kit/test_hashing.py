"""The hashing pool: admission by the wait a request would have, honest `Retry-After`, a fair share of the queue
for each tenant or environment, threads at normal priority. Every check here is logical (places held, the order
jobs run in, a pace set by the test), never a measured time."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import bcrypt
import nacl.pwhash
import pytest
import structlog
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import VerifyMismatchError
from sqlalchemy import String, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.app import create_app
from sump.kit import argon2_memory, passwords
from sump.kit.errors import Problem
from sump.kit.passwords import (
    LIBSODIUM,
    PACE_MEMORY_SECONDS,
    REFERENCE_WHEN_BELOW,
    PasswordHasher,
    cheaper,
    draw_on_share,
    engine,
    verify_argon2,
)
from sump.kit.passwords import REFERENCE as REFERENCE_ENGINE
from tests.kit.test_limits import client_for
from tests.support import PASSWORD, Database, make_settings, new_tenant, statements

# An Argon2 verifier outside Sump's code, at Sump's parameters.
REFERENCE = Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
ENGINES = pytest.mark.parametrize("by", [LIBSODIUM, REFERENCE_ENGINE])


@pytest.fixture
async def hasher() -> AsyncIterator[PasswordHasher]:
    """One thread; a newcomer is let in when its hash would start within 3 s; a hash is taken to last 1 s."""
    pool = PasswordHasher(workers=1, max_wait=60, admission_wait=3.0)
    assert pool.engine in passwords.ENGINES  # prepared: the dummy's hash set a pace, which the test's replaces
    pool.hash_seconds, pool.paced_at = 1.0, time.perf_counter()
    yield pool
    pool.close()


class Places:
    """Places held in the pool by requests of one share, their hashes not started, until released."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher
        self.release = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def take(self, share: str, count: int = 1) -> None:
        for _ in range(count):
            entered = asyncio.Event()
            self.tasks.append(asyncio.create_task(self._hold(share, entered)))
            async with asyncio.timeout(10):
                await entered.wait()

    async def _hold(self, share: str, entered: asyncio.Event) -> None:
        draw_on_share(share)  # in the task's own context, as `kit.edge` does for a request
        async with self.hasher.slot():
            entered.set()
            await self.release.wait()

    async def newcomer(self, share: str) -> Problem | None:
        """What a newcomer of `share` is told: None when let in (its place is given back at once)."""

        async def attempt() -> Problem | None:
            draw_on_share(share)
            try:
                async with self.hasher.slot():
                    return None
            except Problem as refused:
                return refused

        return await asyncio.create_task(attempt())

    async def done(self) -> None:
        self.release.set()
        await asyncio.gather(*self.tasks)


@pytest.mark.asvs("PWD-11")
async def test_admission_is_by_the_wait_in_seconds_and_retry_after_says_how_long(hasher: PasswordHasher) -> None:
    places = Places(hasher)
    try:
        await places.take("a", 3)  # one to run, two waiting: a newcomer starts after 3 hashes of 1 s
        assert hasher.expected_wait("a") == 3.0
        assert await places.newcomer("a") is None  # a wait of 3 s is still served
        await places.take("a", 1)
        assert hasher.expected_wait("a") == 4.0
        refused = await places.newcomer("a")
        assert refused is not None
        assert (refused.status, refused.code) == (503, "overloaded")
        # the wait is 1 s too long: let in once one hash ahead has ended, plus one hash of margin
        assert refused.headers == {"Retry-After": "2"}
        assert hasher.pending == 4
    finally:
        await places.done()
    assert hasher.pending == 0
    assert hasher.shares == {}


async def test_a_pace_from_before_an_idle_spell_gives_way_to_the_fastest_hash(hasher: PasswordHasher) -> None:
    """A burst after a busy spell that has passed (no hash ended for `PACE_MEMORY_SECONDS`) is judged by the
    fastest hash seen, not by the old load's pace, which refused sign-ups that would all have been served."""
    hasher.paced_at = time.perf_counter() - PACE_MEMORY_SECONDS - 1
    hasher.fastest = 0.1
    places = Places(hasher)
    try:
        await places.take("a", 3)
        assert hasher.expected_wait("a") == pytest.approx(0.3)  # 3 s at the old pace of 1 s a hash
        assert await places.newcomer("a") is None
        await places.take("a", 20)
        assert await places.newcomer("a") is None  # 23 ahead: 2.3 s
        hasher.paced_at = time.perf_counter()  # a hash just ended at the pace of 1 s: that pace holds again
        assert hasher.expected_wait("a") == 23.0
        assert await places.newcomer("a") is not None
    finally:
        await places.done()


async def test_a_hash_running_late_counts_as_one_more_sample_of_the_pace(hasher: PasswordHasher) -> None:
    """A burst's own arrival (the event loop parsing it) holds the first hash back for a moment; taking that one
    late hash as the pace of every hash behind it refused sign-ups that were all served within 1.5 s. It weighs
    what it will weigh in the average once it ends, so a machine that really slowed down is still seen."""
    places = Places(hasher)
    try:
        await places.take("a", 2)  # one running, one waiting: a newcomer waits 2 hashes
        hasher.started[-1] = time.perf_counter() - 3.0  # the running hash has taken 3 s, at a pace of 1 s
        assert hasher.expected_wait("a") == pytest.approx(2 * (0.8 * 1.0 + 0.2 * 3.0), abs=0.01)
        assert await places.newcomer("a") is None
        hasher.started[-1] = time.perf_counter() - 20.0  # a stall: the pace it implies refuses at once
        refused = await places.newcomer("a")
        assert refused is not None
        assert (refused.status, refused.code) == (503, "overloaded")
    finally:
        del hasher.started[-1]
        await places.done()


@pytest.mark.asvs("PWD-11")
async def test_a_flooded_tenant_does_not_take_another_tenants_share(hasher: PasswordHasher) -> None:
    places = Places(hasher)
    try:
        await places.take("flooded", 4)
        assert await places.newcomer("flooded") is not None  # its own line is too long
        assert hasher.expected_wait("quiet") == 1.0  # behind at most one job of the flooded line
        assert await places.newcomer("quiet") is None
        await places.take("quiet", 2)
        assert hasher.expected_wait("quiet") == 5.0  # its own 2, and at most 3 of the flooded line between them
        assert hasher.expected_wait("flooded") > hasher.admission_wait
    finally:
        await places.done()


@pytest.mark.asvs("PWD-11")
async def test_a_flooded_tenant_that_fills_the_pool_leaves_every_other_tenant_its_part() -> None:
    """When hashes are fast, a flood fills the pool's places (its bound on memory) before its wait grows long: a
    full pool must not refuse another tenant's first sign-in. A newcomer is refused for a full pool only when its
    share holds its equal part of the places already; past twice the places, everyone is."""
    hasher = PasswordHasher(workers=1, queue_size=3, max_wait=3600, admission_wait=3600)  # 4 places; no wait binds
    hasher.hash_seconds, hasher.paced_at = 0.001, time.perf_counter()
    places = Places(hasher)
    try:
        await places.take("flooded", 4)
        refused = await places.newcomer("flooded")
        assert refused is not None
        assert (refused.status, refused.code) == (503, "overloaded")
        assert await places.newcomer("quiet") is None
        await places.take("quiet", 2)  # its part: 4 places between two shares
        assert await places.newcomer("quiet") is not None
        assert await places.newcomer("flooded") is not None
        await places.take("third", 2)  # its part among three: 4/3 places, so a second is let in, not a third
        assert await places.newcomer("third") is not None
        assert hasher.pending == 8
        assert await places.newcomer("fourth") is not None  # twice the places: the bound on memory holds for all
    finally:
        await places.done()
    assert hasher.pending == 0


async def test_the_threads_take_the_lines_in_turn() -> None:
    hasher = PasswordHasher(workers=1)
    ran: list[str] = []
    started, gate = threading.Event(), threading.Event()

    def blocker() -> None:
        started.set()
        gate.wait(10)

    try:
        first = hasher.enqueue("other", blocker)
        await asyncio.to_thread(started.wait, 10)  # the only thread is busy: what follows queues
        jobs = [hasher.enqueue("a", ran.append, f"a{n}") for n in range(1, 5)]
        jobs.append(hasher.enqueue("b", ran.append, "b1"))
        gate.set()
        await asyncio.gather(first, *jobs)
    finally:
        gate.set()
        hasher.close()
    assert ran == ["a1", "b1", "a2", "a3", "a4"]


@pytest.mark.asvs("PWD-11")
async def test_a_job_let_in_that_then_waits_too_long_for_its_thread_is_refused() -> None:
    """When the load rises after a request was let in, its hash does not start late: a job that waited
    `max_wait` (here: none at all is allowed) is answered 503 when its turn comes."""
    hasher = PasswordHasher(workers=1, max_wait=0.0, admission_wait=1.0)
    try:
        with pytest.raises(Problem) as refused:
            await hasher.hash(PASSWORD)
        assert (refused.value.status, refused.value.code) == (503, "overloaded")
        assert hasher.pending == 0
    finally:
        hasher.close()


@pytest.mark.asvs("PWD-11")
async def test_a_right_password_is_not_refused_when_only_its_rehash_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """A legacy hash is replaced after a successful check; if the pool refuses that second job, the sign-in
    still succeeds and the replacement waits for a later sign-in."""
    hasher = PasswordHasher(workers=1)
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    try:
        matches, replacement = await hasher.verify(legacy, PASSWORD)
        assert matches
        assert replacement is not None
        assert replacement.startswith("$argon2id$")

        async def refused(_password: str) -> str:
            raise Problem(503, "overloaded", "busy", headers={"Retry-After": "1"})

        monkeypatch.setattr(hasher, "hash", refused)
        assert await hasher.verify(legacy, PASSWORD) == (True, None)
    finally:
        hasher.close()


@pytest.mark.asvs("AUTH-02")
async def test_in_a_pool_of_imported_hashes_every_check_does_the_same_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the pool holds bcrypt hashes up to cost 6, each check does bcrypt's work at cost 6 (2^6 rounds' worth:
    a hash of cost 4 is checked, then bcrypt runs on nothing at costs 4 and 5) and one argon2id check, whatever it
    meets: an unknown identifier, an upgraded account, or an imported hash of a lower cost or of the highest. Only
    the right password matches, and a bcrypt hash is replaced by argon2id."""
    hasher = PasswordHasher(workers=1)
    bcrypt_work: list[int] = []
    argon2_checks: list[str] = []
    check_bcrypt, check_argon2, check_dummy = passwords._verify_bcrypt, hasher._verify_argon2, hasher._verify_dummy

    def counted_bcrypt(stored: str, password: str) -> bool:
        bcrypt_work.append(2 ** int(stored[4:6]))
        return check_bcrypt(stored, password)

    def counted_argon2(stored: str, password: str) -> bool:
        argon2_checks.append("account")
        return check_argon2(stored, password)

    def counted_dummy(password: str) -> bool:
        argon2_checks.append("dummy")
        return check_dummy(password)

    monkeypatch.setattr(passwords, "_verify_bcrypt", counted_bcrypt)
    monkeypatch.setattr(hasher, "_verify_argon2", counted_argon2)
    monkeypatch.setattr(hasher, "_verify_dummy", counted_dummy)
    try:
        upgraded = await hasher.hash(PASSWORD)
        low, high = (bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=cost)).decode() for cost in (4, 6))
        for stored in (None, upgraded, low, high):
            for password, matches in ((PASSWORD + "!", False), (PASSWORD, stored is not None)):
                bcrypt_work.clear()
                argon2_checks.clear()
                ok, replacement = await hasher.verify(stored, password, 6)
                assert ok is matches
                assert sum(bcrypt_work) == 2**6, (stored, bcrypt_work)
                assert len(argon2_checks) == 1, (stored, argon2_checks)
                assert (replacement is not None) is (ok and stored in (low, high))
    finally:
        hasher.close()


WELL_FORMED = "$2b$12$" + "a" * 53
BCRYPT_SAMPLES = [
    (WELL_FORMED, 12),
    ("$2y$04$" + "./" * 26 + "z", 4),
    ("$2a$31$" + "Z" * 53, 31),
    ("$2b$31$short", None),  # a cost, but no hash: it would make every check of its pool take hours
    ("$2b$03$" + "a" * 53, None),
    ("$2b$32$" + "a" * 53, None),
    ("$2b$1\u00b9$" + "a" * 53, None),  # a digit of another script
    ("$2x$12$" + "a" * 53, None),
    ("$2b$12" + "a" * 54, None),
    ("$argon2id$v=19$m=19456,t=2,p=1$" + "a" * 22, None),
    (None, None),
]


def test_a_bcrypt_hash_has_a_cost_only_when_well_formed() -> None:
    assert [passwords.bcrypt_cost(stored) for stored, _ in BCRYPT_SAMPLES] == [cost for _, cost in BCRYPT_SAMPLES]


async def test_the_databases_read_a_bcrypt_cost_as_sump_does(db: AsyncSession) -> None:
    """What finds whether a pool still holds bcrypt hashes reads their cost in SQL, on both databases, as Python
    does (the characters of the salt and digest aside: that one only keeps the pool's cost a while longer)."""
    for stored, cost in BCRYPT_SAMPLES:
        assert await db.scalar(select(passwords.bcrypt_cost_sql(literal(stored, String)))) == cost, stored


def test_hashing_threads_run_at_the_process_priority() -> None:
    hasher = PasswordHasher(workers=2)
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        for thread in hasher._threads:
            assert thread.native_id is not None
            assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == own
    finally:
        hasher.close()


@pytest.mark.asvs("PWD-11")
async def test_full_hashing_queue_answers_503_at_once(database: Database) -> None:
    """With no queue beyond the worker threads, logins past the pool's capacity are refused, not queued."""
    app = create_app(make_settings(database, password_queue_size=0))
    try:
        async with client_for(app) as http:
            world = await new_tenant(http)
            url = f"/api/v1/auth/tenants/{world.tenant_id}/login"
            body = {"username": world.owner.username, "password": PASSWORD}
            responses = await asyncio.gather(*(http.post(url, json=body) for _ in range(8)))
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()
    statuses = sorted(response.status_code for response in responses)
    refused = [response for response in responses if response.status_code == 503]
    assert set(statuses) == {200, 503}
    assert statuses.count(200) >= app.state.hasher.workers
    assert all(int(response.headers["Retry-After"]) >= 1 for response in refused)
    assert all(response.json()["code"] == "overloaded" for response in refused)


@pytest.mark.asvs("PWD-11")
async def test_a_sign_in_the_pool_would_refuse_costs_no_database_statement(database: Database) -> None:
    app = create_app(make_settings(database))
    try:
        async with client_for(app) as http:
            world = await new_tenant(http)
            hasher: PasswordHasher = app.state.hasher
            hasher.hash_seconds, hasher.paced_at = 3600.0, time.perf_counter()  # any wait behind a place: too long
            places = Places(hasher)
            share = world.tenant_id
            await places.take(share, hasher.workers)
            try:
                with statements(app) as seen:
                    body = {"username": world.owner.username, "password": PASSWORD}
                    refused = await http.post(f"/api/v1/auth/tenants/{world.tenant_id}/login", json=body)
            finally:
                await places.done()
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()
    assert refused.status_code == 503
    assert refused.json()["code"] == "overloaded"
    assert int(refused.headers["retry-after"]) >= 3600
    assert seen == []


@pytest.mark.asvs("PWD-11")
async def test_a_sign_in_holds_no_database_connection_while_it_hashes(database: Database) -> None:
    app = create_app(make_settings(database))
    held: list[int] = []
    try:
        async with client_for(app) as http:
            world = await new_tenant(http)
            hasher: PasswordHasher = app.state.hasher
            verify = hasher.verify

            async def observed(
                stored: str | None, password: str, legacy_cost: int | None = None
            ) -> tuple[bool, str | None]:
                held.append(app.state.engine.sync_engine.pool.checkedout())
                return await verify(stored, password, legacy_cost)

            hasher.verify = observed  # type: ignore[method-assign]
            body = {"username": world.owner.username, "password": PASSWORD}
            signed_in = await http.post(f"/api/v1/auth/tenants/{world.tenant_id}/login", json=body)
    finally:
        await app.state.engine.dispose()
        app.state.hasher.close()
    assert signed_in.status_code == 200
    assert held == [0]


@ENGINES
@pytest.mark.asvs("PWD-10")
async def test_a_hash_is_argon2id_at_the_owasp_parameters_that_another_implementation_verifies(by: str) -> None:
    """The stored string is the standard PHC one (16 bytes of salt, 32 of digest) whichever engine made it, so a
    hash Sump made moves to any argon2id verifier (the other engine too), and nothing about it is weaker than
    what Sump asks of hashes it reads."""
    hasher = PasswordHasher(workers=1, by=by)
    try:
        stored = await hasher.hash(PASSWORD)
        kind, version, parameters, salt, digest = stored.split("$")[1:]
        assert (kind, version, parameters) == ("argon2id", "v=19", "m=19456,t=2,p=1")
        assert (len(base64.b64decode(salt + "==")), len(base64.b64decode(digest + "="))) == (16, 32)
        assert REFERENCE.verify(stored, PASSWORD)
        with pytest.raises(VerifyMismatchError):
            REFERENCE.verify(stored, PASSWORD + "!")
        assert not REFERENCE.check_needs_rehash(stored)
        assert await hasher.verify(stored, PASSWORD) == (True, None)
        assert await hasher.verify(stored, PASSWORD + "!") == (False, None)
        assert stored != await hasher.hash(PASSWORD)  # a salt of its own each time
        other = {LIBSODIUM: REFERENCE_ENGINE, REFERENCE_ENGINE: LIBSODIUM}[by]
        assert verify_argon2(stored, PASSWORD, other)
        assert not verify_argon2(stored, PASSWORD + "!", other)
    finally:
        hasher.close()


def test_the_engine_kept_is_libsodium_unless_the_other_hashes_clearly_cheaper() -> None:
    """Either engine makes and reads the same strings, so the choice is only the CPU a hash costs: the reference
    engine (argon2-cffi) when its hash costs under 0.9 of libsodium's, as when its bindings are built for the
    CPU on a machine where libsodium's fresh memory for each hash is dear; libsodium otherwise."""
    assert cheaper(libsodium=0.0126, reference=0.0060) == REFERENCE_ENGINE
    assert cheaper(libsodium=0.0126, reference=0.0126 * REFERENCE_WHEN_BELOW * 0.99) == REFERENCE_ENGINE
    assert cheaper(libsodium=0.0126, reference=0.0126 * REFERENCE_WHEN_BELOW) == LIBSODIUM
    assert cheaper(libsodium=0.0080, reference=0.0170) == LIBSODIUM  # the portable wheel's reference code


@ENGINES
async def test_every_hash_of_a_pool_is_made_by_its_engine_the_dummy_too(
    by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown account's dummy verification, a wrong password and a new hash all run on the pool's one engine:
    a dummy verified by the other engine would cost another time than a real account's check."""
    hasher = PasswordHasher(workers=1, by=by)
    try:
        stored = await hasher.hash(PASSWORD)
        assert not REFERENCE.check_needs_rehash(hasher._dummy)  # the dummy is a hash at today's parameters
        calls: list[str] = []

        def counted(name: str, real: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                calls.append(name)
                return real(*args, **kwargs)

            return call

        for name, owner, attribute in (
            (LIBSODIUM, nacl.pwhash.argon2id, "verify"),
            (LIBSODIUM, nacl.pwhash.argon2id, "str"),
            (REFERENCE_ENGINE, argon2_memory, "verify_secret"),
            (REFERENCE_ENGINE, argon2_memory, "hash_secret"),
        ):
            monkeypatch.setattr(owner, attribute, counted(name, getattr(owner, attribute)))
        assert await hasher.verify(None, PASSWORD) == (False, None)
        assert await hasher.verify(stored, PASSWORD + "!") == (False, None)
        assert await hasher.verify(stored, PASSWORD) == (True, None)
        await hasher.hash(PASSWORD)
        assert calls == [by] * 4
    finally:
        hasher.close()


@pytest.fixture
def measured(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The engine's measure ends (choosing libsodium) once the test sets the event, or at the test's end."""
    done = threading.Event()

    def measuring() -> str:
        done.wait()
        return LIBSODIUM

    monkeypatch.setattr(passwords, "engine", measuring)
    yield done
    done.set()


async def test_a_pool_is_built_without_hashing_and_a_hash_asked_meanwhile_waits_for_its_engine(
    measured: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building the pool costs a server's start no hash: the engine is measured, and the dummy made, in the first
    hashing thread while the server starts. A hash asked for before that ends waits for it, and both are made by
    the engine measured."""
    made: list[bytes] = []
    real = nacl.pwhash.argon2id.str

    def counted(secret: bytes, **parameters: Any) -> bytes:
        made.append(secret)
        return real(secret, **parameters)

    monkeypatch.setattr(nacl.pwhash.argon2id, "str", counted)
    # Built while the engine is still being measured (a pool that measured first would never be).
    hasher = await asyncio.wait_for(asyncio.to_thread(PasswordHasher, workers=1), 30)
    hashing = asyncio.create_task(hasher.hash(PASSWORD))
    await asyncio.sleep(0)  # one turn: the task takes its place and queues its hash, then waits for it
    assert (hasher.pending, made) == (1, [])
    measured.set()
    stored = await hashing
    assert made == [b"sump-dummy-password", PASSWORD.encode()]
    assert hasher.engine == LIBSODIUM
    assert REFERENCE.verify(stored, PASSWORD)
    hasher.close()


async def test_sign_ins_that_arrive_while_the_pool_prepares_are_let_in_at_a_nominal_pace(
    measured: threading.Event,
) -> None:
    """Before any hash has ended the pool knows no pace: a burst of sign-ins during its preparation is judged by a
    nominal hash time (and answered once the engine is known), not by an unknown, endless one."""
    hasher = PasswordHasher(workers=1)
    try:
        hashing = [asyncio.create_task(hasher.hash(PASSWORD)) for _ in range(3)]
        await asyncio.sleep(0)  # one turn: each task takes its place and queues its hash
        assert hasher.pending == 3
        assert hasher.expected_wait() == 3 * passwords.NOMINAL_HASH_SECONDS
        measured.set()
        for stored in await asyncio.gather(*hashing):
            assert REFERENCE.verify(stored, PASSWORD)
    finally:
        measured.set()  # before the close: the thread ends once the pool is prepared
        hasher.close()


async def test_a_pool_whose_preparation_failed_never_answers_an_unknown_account_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without its dummy hash an unknown account's verification would answer in no time, telling it apart from a
    wrong password: it fails instead (the request's 500), and known accounts still verify."""
    stored = REFERENCE.hash(PASSWORD)

    def failing(_password: str, _by: str) -> str:
        raise MemoryError

    monkeypatch.setattr(passwords, "_hash_argon2id", failing)
    with structlog.testing.capture_logs() as logs:
        hasher = PasswordHasher(workers=1, by=LIBSODIUM)
        try:
            async with asyncio.timeout(30):  # a pool left without a thread would never answer
                with pytest.raises(RuntimeError, match="no dummy hash"):
                    await hasher.verify(None, PASSWORD)
                assert await hasher.verify(stored, PASSWORD) == (True, None)
        finally:
            hasher.close()
    assert [entry["log_level"] for entry in logs if entry["event"] == "hashing pool not prepared"] == ["error"]


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown argon2id engine"):
        PasswordHasher(workers=1, by="bcrypt")


def test_the_engine_is_measured_once_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first caller measures (a warm-up hash of the reference engine, then the least of two of each engine),
    the later ones get its answer. Here the reference engine's first hash was unlucky: alone, it would have kept
    libsodium."""
    probes: list[str] = []
    costs = iter([0.013, 0.012, 0.0125, 0.0100])

    def hashed(_password: str, by: str) -> str:
        probes.append(by)
        return ""

    def cost_of(by: str) -> float:
        probes.append(by)
        return next(costs)

    monkeypatch.setattr(passwords, "_hash_argon2id", hashed)
    monkeypatch.setattr(passwords, "_cpu_of_hash", cost_of)
    passwords._measured_engine.cache_clear()
    try:
        with structlog.testing.capture_logs() as logs:
            assert engine() == REFERENCE_ENGINE
            assert engine() == REFERENCE_ENGINE
        assert probes == [REFERENCE_ENGINE, LIBSODIUM, LIBSODIUM, REFERENCE_ENGINE, REFERENCE_ENGINE]
        [said] = [entry for entry in logs if entry["event"] == "password hashing engine"]
        assert (said["libsodium_ms"], said["argon2-cffi_ms"]) == pytest.approx((12.0, 10.0))
    finally:
        passwords._measured_engine.cache_clear()


# Run in a process of its own, so that its resident memory is the pool's alone: the engine's measure and the
# dummy hash (made before a server forks), then the memory each release gives back, in kB.
MEMORY_OF_A_POOL = """
import asyncio, json, threading
from sump.kit import argon2_memory, passwords

def resident():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

released, freed = threading.Event(), []
release = argon2_memory.release

def measured_release():
    before = resident()
    had = release()
    freed.append((threading.current_thread().name, had, before - resident()))
    released.set()
    return had

async def sign_ins(pool):
    for _ in range(3):
        assert (await pool.verify(await pool.hash("pw"), "pw"))[0]
    await asyncio.to_thread(released.wait, 60)

argon2_memory.release = measured_release
passwords.IDLE_RELEASE_SECONDS = 0.05
start = resident()
passwords.engine()
pool = passwords.PasswordHasher(workers=1, by=passwords.REFERENCE)
assert pool.engine == passwords.REFERENCE  # once the pool is prepared
prepared = resident()
freed.clear()
released.clear()
asyncio.run(sign_ins(pool))
print(json.dumps({"prepared": prepared - start, "freed": freed, "after": resident() - start}))
"""


def test_a_pool_leaves_no_hash_memory_behind_and_an_idle_hashing_thread_unmaps_its_own() -> None:
    """The engine's measure and the dummy hash, made in the process that forks the workers, leave nothing of
    their 19 MiB resident; a hashing thread keeps its buffer while it hashes, and gives it back to the system
    once IDLE_RELEASE_SECONDS pass without a job (not merely to the C allocator, which kept a thread's)."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", MEMORY_OF_A_POOL], capture_output=True, text=True, timeout=120, check=True
    )
    memory = json.loads(done.stdout.splitlines()[-1])  # after the log lines
    mib = 1024
    assert memory["prepared"] < 4 * mib
    [(thread, had, freed)] = memory["freed"]
    assert (thread, had) == ("sump-hash-0", True)
    assert freed > 18 * mib
    assert memory["after"] < 4 * mib


async def test_a_busy_hashing_thread_keeps_its_buffer_between_hashes_and_unmaps_it_when_the_pool_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hash reuses its thread's buffer (no new mapping, so no page faults) until the thread idles or ends."""
    mappings: list[str] = []
    mapped, unmapped = argon2_memory._Buffer.__init__, argon2_memory._Buffer.close

    def mapping(buffer: Any, size: int) -> None:
        mappings.append(f"map {size}")
        mapped(buffer, size)

    def unmapping(buffer: Any) -> None:
        mappings.append(f"unmap {buffer.size}")
        unmapped(buffer)

    pool = PasswordHasher(workers=1, by=REFERENCE_ENGINE)
    try:
        assert pool.engine == REFERENCE_ENGINE  # prepared: its dummy's buffer is gone
        monkeypatch.setattr(argon2_memory._Buffer, "__init__", mapping)
        monkeypatch.setattr(argon2_memory._Buffer, "close", unmapping)
        for _ in range(3):
            assert await pool.verify(await pool.hash(PASSWORD), PASSWORD) == (True, None)
        assert mappings == [f"map {19456 * 1024}"]
    finally:
        pool.close()
    for thread in pool._threads:
        await asyncio.to_thread(thread.join, 30)
    assert mappings == [f"map {19456 * 1024}", f"unmap {19456 * 1024}"]


def _mapping_at(address: int) -> tuple[int, int, list[str]]:
    """The start, end and flags (`VmFlags`) of this process's mapping that holds `address`."""
    found: tuple[int, int] | None = None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split(None, 1)[0]
            if "-" in first and ":" not in first:
                start, end = (int(part, 16) for part in first.split("-"))
                found = (start, end) if start <= address < end else None
            elif found and line.startswith("VmFlags:"):
                return *found, line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


def test_a_hashing_threads_buffer_asks_the_kernel_for_huge_pages() -> None:
    """The whole buffer a hash runs in is advised for transparent huge pages (`hg` among its mapping's flags): a
    hash's unpredictable reads of 19 MiB then miss the TLB far less than through 4 KiB pages."""

    def hash_and_look() -> tuple[int, int, int, int, list[str]]:
        parameters = (passwords.TIME_COST, passwords.MEMORY_KIB, passwords.SALT_LENGTH, passwords.DIGEST_LENGTH)
        stored = argon2_memory.hash_secret(PASSWORD.encode(), *parameters)  # Sump's own
        assert argon2_memory.verify_secret(stored, PASSWORD.encode())
        buffer = argon2_memory._local.buffer
        try:
            return (buffer.address, buffer.size, *_mapping_at(buffer.address))
        finally:
            argon2_memory.release()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # a thread of its own, as a hashing thread
        address, size, mapped_from, mapped_to, flags = thread.submit(hash_and_look).result()
    assert mapped_from <= address
    assert mapped_to >= address + size
    assert "hg" in flags


def test_a_process_that_exits_while_a_thread_hashes_exits_cleanly() -> None:
    """The buffer is the thread's until it unmaps it, not the interpreter's: a process that ends while a daemon
    hashing thread writes into it (a server stopped mid sign-in, a script done before its pool is prepared) exits
    as usual, where an interpreter that freed the buffer at exit crashed it (SIGSEGV)."""
    script = (
        "import threading\n"
        "from sump.kit import argon2_memory, passwords\n"
        "hashing = threading.Event()\n"
        "allocate = argon2_memory._allocate\n"
        "def allocating(memory, size):\n"
        "    status = allocate(memory, size)\n"
        "    hashing.set()\n"
        "    return status\n"
        "argon2_memory._ALLOCATE = argon2_memory.ffi.callback('allocate_fptr', allocating)\n"
        "pool = passwords.PasswordHasher(workers=1, by=passwords.REFERENCE)\n"
        "assert hashing.wait(30)\n"
    )
    for _ in range(3):  # the exit is timed by the hash's start, where the tear-down had a hash's time to meet it
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)  # noqa: S603
        assert done.returncode == 0, (done.returncode, done.stderr)


async def test_sump_argon2_engine_pins_the_engine_of_the_application(database: Database) -> None:
    for by in (LIBSODIUM, REFERENCE_ENGINE):
        app = create_app(make_settings(database, argon2_engine=by))
        try:
            assert app.state.hasher.engine == by
        finally:
            app.state.hasher.close()


def test_the_engine_is_chosen_by_the_cost_it_measured_and_says_so() -> None:
    with structlog.testing.capture_logs() as logs:
        chosen = passwords._measured_engine.__wrapped__()
    [said] = [entry for entry in logs if entry["event"] == "password hashing engine"]
    assert said["engine"] == chosen == cheaper(said["libsodium_ms"], said["argon2-cffi_ms"])
    assert min(said["libsodium_ms"], said["argon2-cffi_ms"]) > 0
    hasher = PasswordHasher(workers=1)
    try:
        assert hasher.engine == engine()
    finally:
        hasher.close()


@pytest.mark.parametrize(
    ("made_by", "replaced"),
    [
        (REFERENCE, False),
        (Argon2Hasher(time_cost=1, memory_cost=19456, parallelism=1), True),
        (Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=4), True),
        (Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.I), True),
        (Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.D), True),
        (Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1, salt_len=32, hash_len=64), True),
    ],
    ids=["sumps-parameters", "fewer-passes", "four-lanes", "argon2i", "argon2d", "longer-salt-and-digest"],
)
@pytest.mark.asvs("PWD-11")
@ENGINES
async def test_argon2_hashes_made_elsewhere_verify_and_the_weaker_are_replaced(
    made_by: Argon2Hasher, replaced: bool, by: str
) -> None:
    """Hashes another Argon2 implementation made (an earlier Sump, an imported user base) keep working, the
    kinds and parameters libsodium reads and the ones left to argon2-cffi alike; a wrong password fails on each,
    and a right one on a weaker hash gets today's."""
    hasher = PasswordHasher(workers=1, by=by)
    try:
        stored = made_by.hash("fine " + PASSWORD)
        matches, replacement = await hasher.verify(stored, "ﬁne " + PASSWORD)  # a ligature, compared NFKC-normalised
        assert matches
        assert (replacement is not None) is replaced
        if replacement is not None:
            assert replacement.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
            assert REFERENCE.verify(replacement, "fine " + PASSWORD)
        assert await hasher.verify(stored, "fine " + PASSWORD + "!") == (False, None)
    finally:
        hasher.close()


@pytest.mark.parametrize(
    "stored",
    [
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
        "$argon2id$v=19$m=19456,t=2,p=1$" + "A" * 200,
        "$argon2id$v=19$m=19456,t=2,p=1$not base64!$x",
        "$argon2id$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
        "$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
        "",
        "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
    ],
    ids=["wrong-digest", "too-long", "bad-base64", "no-version", "unknown-kind", "empty", "refused-parameters"],
)
@ENGINES
async def test_a_damaged_stored_hash_matches_no_password_and_raises_nothing(stored: str, by: str) -> None:
    hasher = PasswordHasher(workers=1, by=by)
    try:
        assert await hasher.verify(stored, PASSWORD) == (False, None)
    finally:
        hasher.close()


@pytest.mark.parametrize("flipped", [0, 15, 31], ids=["first-byte", "middle-byte", "last-byte"])
@pytest.mark.asvs("PWD-09")
@ENGINES
def test_a_stored_digest_wrong_in_any_one_byte_matches_not_even_the_right_password(flipped: int, by: str) -> None:
    """The whole digest is compared: a hash whose digest differs from the right one in a single byte, anywhere, is
    read by the buffered engine (canonical spelling) and matches nothing."""
    prefix, salt, digest = REFERENCE.hash(PASSWORD).rsplit("$", 2)
    raw = bytearray(base64.b64decode(digest + "=" * (-len(digest) % 4)))
    raw[flipped] ^= 0x01
    tampered = f"{prefix}${salt}${base64.b64encode(bytes(raw)).decode().rstrip('=')}"
    assert argon2_memory.verify_secret(tampered, PASSWORD.encode()) is False
    assert not verify_argon2(tampered, PASSWORD, by)


def test_a_stored_hash_of_more_memory_than_sumps_verifies_in_a_buffer_grown_to_it() -> None:
    """A hash imported with a larger memory cost maps a buffer of that size for its thread (in place of the
    smaller one), and Sump's own hashes go on in it; one larger than a thread keeps is unmapped after its hash."""

    def in_a_thread_of_its_own() -> tuple[bool, bool, int, bool, bool, int]:
        try:
            ours = verify_argon2(REFERENCE.hash(PASSWORD), PASSWORD, REFERENCE_ENGINE)
            larger = Argon2Hasher(time_cost=1, memory_cost=32768, parallelism=1).hash(PASSWORD)
            theirs = verify_argon2(larger, PASSWORD, REFERENCE_ENGINE)
            grown = argon2_memory.held()
            wrong = verify_argon2(larger, PASSWORD + "!", REFERENCE_ENGINE)
            largest = Argon2Hasher(time_cost=1, memory_cost=argon2_memory.KEPT_AT_MOST // 1024 + 4, parallelism=1)
            biggest = verify_argon2(largest.hash(PASSWORD), PASSWORD, REFERENCE_ENGINE)
            return ours, theirs, grown, wrong, biggest, argon2_memory.held()
        finally:
            argon2_memory.release()

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        assert thread.submit(in_a_thread_of_its_own).result() == (True, True, 32768 * 1024, False, True, 0)


@pytest.mark.parametrize(
    "stored",
    [
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 43,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdB$" + "A" * 43,
        "$argon2id$v=19$m=019456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
        "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "A" * 43,
    ],
    ids=["padded", "stray-bits", "leading-zero", "version-1.0"],
)
def test_strings_in_another_spelling_are_left_to_argon2_cffi(stored: str) -> None:
    """Only the canonical form Sump and libsodium write is read by the buffered engine; any other spelling goes
    to argon2-cffi's own parser, so what matches does not depend on which of the two reads it."""
    assert argon2_memory.verify_secret(stored, PASSWORD.encode()) is None
    assert not verify_argon2(stored, PASSWORD, REFERENCE_ENGINE)


async def test_a_buffer_that_cannot_be_mapped_fails_the_hash_loudly_and_is_no_wrong_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Memory the system refuses is an error of the server (a 500 the log names), never a mismatch that would count
    against the account's lockout."""

    def refused(_buffer: Any, _size: int) -> None:
        raise OSError(12, "Cannot allocate memory")

    pool = PasswordHasher(workers=1, by=REFERENCE_ENGINE)
    try:
        stored = await pool.hash(PASSWORD)
        await pool.run(argon2_memory.release)
        monkeypatch.setattr(argon2_memory._Buffer, "__init__", refused)
        with pytest.raises(MemoryError, match="Memory allocation error"):
            await pool.verify(stored, PASSWORD)
        with pytest.raises(MemoryError):
            await pool.hash(PASSWORD)
    finally:
        pool.close()


def test_a_buffer_that_cannot_grow_leaves_the_thread_no_unmapped_buffer_to_hash_into() -> None:
    """A stored hash whose memory cost the system refuses to map (a damaged or imported string, `m` up to
    99999999 KiB) fails loudly; the thread's next hash maps a fresh buffer rather than write into the one the
    failed growth had already unmapped, which crashed the worker (SIGSEGV) and unmapped the address twice."""
    script = (
        "from sump.kit import argon2_memory\n"
        "init = argon2_memory._Buffer.__init__\n"
        "def refused_when_large(buffer, size):\n"
        "    if size > 1 << 30:\n"
        "        raise OSError(12, 'Cannot allocate memory')\n"
        "    init(buffer, size)\n"
        "argon2_memory._Buffer.__init__ = refused_when_large\n"
        "stored = argon2_memory.hash_secret(b'pw', 1, 64, 16, 32)\n"
        "try:\n"
        "    argon2_memory.verify_secret(stored.replace('m=64', 'm=2097152'), b'pw')\n"
        "except MemoryError:\n"
        "    pass\n"
        "assert argon2_memory.verify_secret(stored, b'pw') is True\n"
        "assert argon2_memory.release()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)  # noqa: S603
    assert done.returncode == 0, (done.returncode, done.stderr)
