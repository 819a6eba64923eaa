"""One fleet for the whole suite: a fresh PostgreSQL database migrated by `sump db upgrade`, Redis database 11
emptied before and after, an SMTP server, three `sump serve` nodes with `SUMP_ENV=prod`, and nginx with TLS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator

import pytest
import redis

from tests.fleet.fleet import (
    NODES,
    REDIS_URL,
    Fleet,
    Tenant,
    fresh_database,
    make_certificate,
    node_environment,
    run_admin,
    start_node,
    start_proxy,
)
from tests.mail import SmtpServer
from tests.servers import SUMP, free_port


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory, mailbox: SmtpServer) -> Iterator[Fleet]:
    directory = tmp_path_factory.mktemp("fleet")
    counters = redis.Redis.from_url(REDIS_URL)
    counters.flushdb()
    database_url, name = fresh_database()
    nodes = []
    proxy = None
    try:
        proxy_port, node_ports = free_port(), [free_port() for _ in range(NODES)]
        environment = node_environment(database_url, f"https://127.0.0.1:{proxy_port}", mailbox.port)
        migrated = subprocess.run(  # noqa: S603
            [str(SUMP), "db", "upgrade"], cwd=directory, env=environment, capture_output=True, text=True, timeout=120
        )
        assert migrated.returncode == 0, migrated.stderr
        nodes = [start_node(directory / f"node{n + 1}", environment, port) for n, port in enumerate(node_ports)]
        for node in nodes:
            node.wait_until_live()
        cert_file, key_file = make_certificate(directory)
        trust = ssl.create_default_context(cafile=str(cert_file))
        proxy = start_proxy(directory / "nginx", proxy_port, node_ports, cert_file, key_file, trust)
        yield Fleet(proxy, nodes, node_ports, environment, directory, trust, cert_file)
    finally:
        if proxy is not None:
            proxy.stop()
        for node in nodes:
            node.kill()
        run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        counters.flushdb()
        counters.close()


@pytest.fixture(scope="session")
def tenant(fleet: Fleet) -> Tenant:
    """A tenant made through the proxy, whose environment the tests' end users sign up in."""
    return fleet.new_tenant()
