"""The fleet: Debian's nginx, terminating TLS, in front of three `sump serve` nodes that share one PostgreSQL
database, one Redis and one secret, as docs/production.md §2 deploys them.

Everything runs on one machine, where every address is loopback, so the addresses are chosen to tell the parts
apart: nginx connects to the nodes from 127.0.0.2 (`proxy_bind`), the only address the nodes trust as a proxy,
and each test's clients connect from an address of their own (127.0.10.x, …), whether to nginx or to a node
directly. Per-address counters then never mix between tests, and a client that talks to a node directly with
its own `X-Forwarded-For` is counted by the address it connects from.
"""

from __future__ import annotations

import asyncio
import datetime
import getpass
import ipaddress
import itertools
import os
import signal
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import SUMP, Server
from tests.support import ADMIN_URL, PASSWORD, SECRET

NGINX = Path("/usr/sbin/nginx")
PROXY_ADDRESS = "127.0.0.2"  # where nginx connects to the nodes from: the nodes' one trusted proxy
REDIS_URL = "redis://127.0.0.1:6379/11"  # a Redis database of its own, emptied before and after the suite
NODES = 3
DEADLINE_SECONDS = 30


def run_admin(statement: str) -> None:
    async def execute() -> None:
        connection = await asyncpg.connect(ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute())


def fresh_database() -> tuple[str, str]:
    """A new, empty PostgreSQL database: its URL and its name."""
    name = f"sump_fleet_{uuid.uuid4().hex[:12]}"
    run_admin(f'CREATE DATABASE "{name}"')
    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}", name


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the test's own trust anchor): the certificate and key files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sump fleet test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "fleet.pem", directory / "fleet.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def nginx_config(directory: Path, port: int, node_ports: list[int], cert_file: Path, key_file: Path) -> str:
    """nginx as a plain process: its own prefix, logs and temporary files under `directory`."""
    servers = "\n".join(f"        server 127.0.0.1:{node} max_fails=1 fail_timeout=5s;" for node in node_ports)
    temporary = "\n".join(
        f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
user {getpass.getuser()};
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} info;
events {{ worker_connections 512; }}
http {{
    log_format upstream '$remote_addr "$request" $status $upstream_addr';
    access_log {directory / "access.log"} upstream;
{temporary}
    upstream sump {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate     {cert_file};
        ssl_certificate_key {key_file};
        client_max_body_size 1m;

        location / {{
            proxy_pass http://sump;
            proxy_bind {PROXY_ADDRESS};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    base_url: str
    directory: Path

    def access_log(self) -> str:
        """One line a request: client address, request line, status, the node(s) tried."""
        return (self.directory / "access.log").read_text()

    def stop(self) -> None:
        """SIGQUIT: nginx's graceful stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_proxy(
    directory: Path, port: int, node_ports: list[int], cert_file: Path, key_file: Path, trust: ssl.SSLContext
) -> Proxy:
    """nginx on `port`, once it answers over TLS."""
    assert NGINX.exists(), "Debian's nginx is needed: `make test-fleet` installs it (apt-get install nginx)"
    directory.mkdir(exist_ok=True)
    config = directory / "nginx.conf"
    config.write_text(nginx_config(directory, port, node_ports, cert_file, key_file))
    with (directory / "nginx.out").open("wb") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(NGINX), "-p", str(directory), "-c", str(config), "-e", str(directory / "error.log")],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    proxy = Proxy(process, f"https://127.0.0.1:{port}", directory)
    deadline = time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(base_url=proxy.base_url, verify=trust, timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"nginx exited with {process.returncode}:\n{(directory / 'error.log').read_text()}")
            try:
                if http.get("/health/live").status_code == 200:
                    return proxy
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # between polls of the proxy, not a stand-in for it
    proxy.stop()
    pytest.fail(f"nginx did not answer within {DEADLINE_SECONDS} s:\n{(directory / 'error.log').read_text()}")


def start_node(directory: Path, environment: dict[str, str], port: int) -> Server:
    """`sump serve` with one worker on `port` (the database is migrated already)."""
    directory.mkdir(exist_ok=True)
    log = directory / "server.log"
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603
            [str(SUMP), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=directory,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Server(process, f"http://127.0.0.1:{port}", log)


@dataclass
class Tenant:
    tenant_id: str
    tenant_name: str
    environment_id: str
    owner_email: str
    owner_token: str

    @property
    def owner_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_token}"}


@dataclass
class EndUser:
    email: str
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Fleet:
    proxy: Proxy
    nodes: list[Server]
    node_ports: list[int]
    environment: dict[str, str]
    directory: Path
    trust: ssl.SSLContext
    cert_file: Path
    _addresses: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def public_url(self) -> str:
        return self.proxy.base_url

    @property
    def everywhere(self) -> list[str]:
        """Each node directly, then the proxy."""
        return [node.base_url for node in self.nodes] + [self.proxy.base_url]

    def new_address(self) -> str:
        """A loopback address no other client of this run connects from (127.0.10.1, 127.0.10.2, …)."""
        number = next(self._addresses)
        return f"127.0.{10 + number // 250}.{1 + number % 250}"

    def client(self, base_url: str, address: str | None = None, **options: Any) -> httpx.Client:
        """A client of `base_url` connecting from `address` (a new one unless given), keeping no cookies."""
        transport = httpx.HTTPTransport(local_address=address or self.new_address(), verify=self.trust)
        return httpx.Client(base_url=base_url, transport=transport, timeout=DEADLINE_SECONDS, **options)

    def new_tenant(self) -> Tenant:
        tag = uuid.uuid4().hex[:8]
        body = {
            "tenant": {"name": f"Fleet {tag}"},
            "account": {
                "name": f"Owner {tag}",
                "email": f"owner-{tag}@example.com",
                "username": f"owner_{tag}",
                "password": PASSWORD,
            },
        }
        with self.client(self.public_url) as http:
            created = http.post("/api/v1/tenants", json=body)
        assert created.status_code == 201, created.text
        data = created.json()
        return Tenant(
            data["tenantId"], body["tenant"]["name"], data["environmentId"], body["account"]["email"], data["token"]
        )

    def new_end_user(self, tenant: Tenant) -> EndUser:
        """An end user who signed up in the tenant's environment, through the proxy."""
        tag = uuid.uuid4().hex[:8]
        body = {"name": f"End {tag}", "email": f"end-{tag}@example.com", "username": f"end_{tag}", "password": PASSWORD}
        with self.client(self.public_url) as http:
            created = http.post(f"/api/v1/auth/environments/{tenant.environment_id}/signup", json=body)
        assert created.status_code == 201, created.text
        return EndUser(body["email"], body["username"], created.json()["token"])

    def restart(self, index: int) -> None:
        """Starts node `index` again (after a test stopped it) on its own port."""
        node = start_node(self.directory / f"node{index + 1}", self.environment, self.node_ports[index])
        node.wait_until_live()
        self.nodes[index] = node


def node_environment(database_url: str, public_url: str, smtp_port: int) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment.update(
        SUMP_ENV="prod",
        SUMP_SECRET_KEY=SECRET,
        SUMP_DATABASE_URL=database_url,
        SUMP_PUBLIC_URL=public_url,
        SUMP_TRUSTED_PROXIES=f"{PROXY_ADDRESS}/32",
        SUMP_REDIS_URL=REDIS_URL,
        SUMP_EMAIL_BACKEND="smtp",
        SUMP_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        # No pacing between failed sign-ins, so that the lockout is reached without waiting.
        SUMP_LOCKOUT_MAX_DELAY="0",
    )
    return environment
