"""The README is executed: its curl walk-through runs in README order against a real app, each command answering
the status and the fields its `# 201 {…}` line shows; every JSON body in it parses; the SDK's example app
accepts and refuses the walk-through's tokens; every setting is in its Configuration table. (A documentation
bug is a bug.)"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI

from sump.config import Settings
from sump.sdk import JwksVerifier
from tests.support import set_cookies

README = Path(__file__).resolve().parents[1] / "README.md"
ORIGIN = "http://127.0.0.1:8080"
# The sections that run as one walk-through, in README order; the walk ends with the owner's logout.
WALKED = (
    "A first tenant, with curl",
    "End users of an environment",
    "Access tokens, refresh tokens and JWKS",
    "Organizations, roles and permissions",
    "The audit log",
)
LOGOUT = "curl -s -b jar -c jar -X POST http://127.0.0.1:8080/api/v1/auth/tenants/$TENANT/logout"
# `NAME=…` lines take the field of the answer before them.
ASSIGNED = {
    "TENANT": "tenantId",
    "ENV": "environmentId",
    "SESSION": "token",
    "ACCESS": "accessToken",
    "REFRESH": "refreshToken",
    "ORG": "id",
    "JOAN": "id",
}
ASSIGNMENT = re.compile(r"^([A-Z_]+)=…")
ANSWER = re.compile(r"^#\s+(\d{3})\b\s*(.*)$")
PAIR = re.compile(r'"(\w+)":("(?:[^"\\]|\\.)*"|\[[^\[\]{}]*\]|true|false|null|-?\d+)?')
VARIABLE = re.compile(r"\$\{?([A-Z_]+)\}?")


@dataclass
class Step:
    """One line of a shell block: a curl command, a variable taken from the answer, or the answer shown."""

    section: str
    line: str
    status: int | None = None  # from the `# 201 …` line after a command
    shown: str = ""  # the answer as shown, after the status


@dataclass
class Walk:
    variables: dict[str, str] = field(default_factory=dict)
    jar: dict[str, str] = field(default_factory=dict)
    answers: list[tuple[Step, httpx.Response]] = field(default_factory=list)


def blocks(language: str) -> Iterator[tuple[str, str]]:
    """(section heading, text) of every fenced block in `language`, continuation lines joined."""
    section, inside, lines = "", False, list[str]()
    for raw in README.read_text().splitlines():
        line = raw.strip()
        if raw.startswith("## "):
            section = raw[3:].strip()
        elif not inside and line == f"```{language}":
            inside, lines = True, []
        elif inside and line == "```":
            inside = False
            yield section, "\n".join(lines).replace("\\\n", " ")
        elif inside:
            lines.append(raw)


def commands(text: str) -> Iterator[str]:
    """The block's lines, a quoted body that spans several lines kept whole."""
    pending = ""
    for line in text.splitlines():
        pending = f"{pending}\n{line}" if pending else line.strip()
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # a quote still open
            continue
        yield pending
        pending = ""
    assert not pending, pending


def steps() -> list[Step]:
    found: list[Step] = []
    for section, text in blocks("sh"):
        for line in commands(text):
            answer = ANSWER.match(line)
            if answer and found and found[-1].line.startswith("curl"):
                found[-1].status, found[-1].shown = int(answer.group(1)), answer.group(2)
            elif line.startswith("curl") or ASSIGNMENT.match(line):
                found.append(Step(section, line))
    return found


def walk_through() -> list[Step]:
    """The walked sections' steps in README order, then the logout that ends the walk-through."""
    every = steps()
    walked = [step for step in every if step.section in WALKED]
    [logout] = [step for step in every if step.line.startswith(LOGOUT)]
    return [*walked, logout]


def substitute(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        assert match.group(1) in variables, f"${match.group(1)} is used before the walk-through sets it"
        return variables[match.group(1)]

    return VARIABLE.sub(value, text)


async def run(client: httpx.AsyncClient, step: Step, walk: Walk) -> httpx.Response:
    """`step`'s curl command, as curl would send it: method, headers, body, Basic credentials, the cookie file."""
    words = [substitute(word, walk.variables) for word in shlex.split(step.line, comments=True)[1:]]
    method, headers, data, url, read_jar, write_jar = None, {}, [], "", False, False
    auth: tuple[str, str] | None = None
    options = iter(words)
    for word in options:
        if word == "-X":
            method = next(options)
        elif word == "-H":
            name, _, value = next(options).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data.append(next(options))
        elif word == "-u":
            user, _, password = next(options).partition(":")
            auth = (user, password)
        elif word in ("-b", "-c"):
            assert next(options) == "jar"
            read_jar, write_jar = read_jar or word == "-b", write_jar or word == "-c"
        elif word == "-s":
            continue
        else:
            assert word.startswith(ORIGIN), f"unexpected curl word {word!r} in {step.line}"
            assert not url, f"two URLs in {step.line}"
            url = word
    if data and "Content-Type" not in headers:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if read_jar and walk.jar:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in walk.jar.items())
    parts = urlsplit(url)
    response = await client.request(
        method or ("POST" if data else "GET"),
        parts.path + (f"?{parts.query}" if parts.query else ""),
        headers=headers,
        content="&".join(data).encode() if data else None,
        auth=auth,
    )
    if write_jar:
        for name, cookie in set_cookies(response).items():
            if cookie.value and not cookie.clears:
                walk.jar[name] = cookie.value
            else:
                walk.jar.pop(name, None)
    return response


def nodes(value: Any) -> Iterator[Any]:
    yield value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        yield from nodes(child)


def check_shown(step: Step, response: httpx.Response) -> None:
    """Every field the README shows in the answer is there, with the value shown unless it is elided (…)."""
    body = response.json()
    objects = [node for node in nodes(body) if isinstance(node, dict)]
    for key, raw in PAIR.findall(step.shown):
        holders = [node for node in objects if key in node]
        assert holders, f"{key!r} shown but not answered by {step.line}: {response.text}"
        if raw and "…" not in raw:
            expected = json.loads(raw)
            assert any(node[key] == expected for node in holders), f"{key}={raw} not answered: {response.text}"


async def walk(client: httpx.AsyncClient) -> Walk:
    done = Walk()
    for step in walk_through():
        assignment = ASSIGNMENT.match(step.line)
        if assignment:
            name = assignment.group(1)
            done.variables[name] = str(done.answers[-1][1].json()[ASSIGNED[name]])
            continue
        response = await run(client, step, done)
        if step.status is not None:
            assert response.status_code == step.status, f"{step.line}\n{response.status_code} {response.text}"
        else:
            assert response.is_success, f"{step.line}\n{response.status_code} {response.text}"
        if step.shown.startswith(("{", "[")):
            check_shown(step, response)
        done.answers.append((step, response))
    return done


def answered(done: Walk, *parts: str) -> list[httpx.Response]:
    return [response for step, response in done.answers if all(part in step.line for part in parts)]


async def test_the_walk_through_runs_in_readme_order(client: httpx.AsyncClient) -> None:
    done = await walk(client)

    # The owner's search of the end users runs while the owner is still signed in (it answered 401 when the
    # owner had logged out in the section before).
    [search] = answered(done, "-b jar", "/accounts?q=al")
    assert search.status_code == 200
    assert [user["username"] for user in search.json()] == ["alan"]
    [forgot] = answered(done, "/forgot-password")
    assert forgot.json() == {"message": "If an account exists with this identifier, a reset link has been sent."}

    # The organization's token carries the custom role and its permissions; the chain of refresh tokens moved on.
    *_, joan = answered(done, "/token", '"username": "joan"')
    claims = await client.get(
        f"/api/v1/auth/environments/{done.variables['ENV']}/me",
        headers={"Authorization": f"Bearer {joan.json()['accessToken']}"},
    )
    assert (claims.json()["organizationId"], claims.json()["roles"]) == (done.variables["ORG"], ["APPROVER"])
    assert claims.json()["permissions"] == ["invoices:approve", "projects:read"]
    [refreshed] = answered(done, '"grantType": "refresh_token"')
    assert refreshed.json()["refreshToken"] != done.variables["REFRESH"]
    [org_events] = answered(done, "/audit-events?organizationId=")
    assert {"organization.created", "membership.added"} <= {event["action"] for event in org_events.json()}

    # The last command signed the owner out: the session in the jar no longer works.
    [cookie] = answered(done, "/tenants/$TENANT/session")[0].request.headers.get_list("cookie")
    after = await client.get(f"/api/v1/auth/tenants/{done.variables['TENANT']}/session", headers={"Cookie": cookie})
    assert after.status_code == 401
    assert after.json()["code"] == "unauthenticated"
    assert "sump_session" not in done.jar


async def test_the_sdk_example_accepts_and_refuses_the_walk_through_tokens(client: httpx.AsyncClient) -> None:
    done = await walk(client)
    environment_id = done.variables["ENV"]
    [(_, snippet)] = [block for block in blocks("python") if block[0].startswith("Your application")]
    namespace: dict[str, Any] = {"ENVIRONMENT_ID": environment_id}
    exec(compile(snippet, str(README), "exec"), namespace)  # noqa: S102 (the README's own example)
    example: FastAPI = namespace["app"]
    written: JwksVerifier = example.state.sump
    assert written.issuer == f"{ORIGIN}/api/v1/environments/{environment_id}"
    assert written.jwks_url == f"{ORIGIN}/api/v1/environments/{environment_id}/.well-known/jwks.json"

    # The same verifier, reaching this app (whose public URL is the test's) through the test's transport.
    example.state.sump = JwksVerifier.for_environment(str(client.base_url), environment_id, client=client)
    *_, joan = answered(done, "/token", '"username": "joan"')
    transport = httpx.ASGITransport(app=example)
    async with httpx.AsyncClient(transport=transport, base_url="http://example.test") as http:
        approved = await http.get(
            "/invoices/42/approval", headers={"Authorization": f"Bearer {joan.json()['accessToken']}"}
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["organization"] == done.variables["ORG"]
        without = await http.get(
            "/invoices/42/approval", headers={"Authorization": f"Bearer {done.variables['ACCESS']}"}
        )
        assert without.status_code == 403
        assert without.json() == {"detail": "Missing permission: invoices:approve"}
        unsigned = await http.get("/invoices/42/approval")
        assert unsigned.status_code == 401
        assert unsigned.json() == {"detail": "A bearer access token is required."}


def test_every_json_body_parses() -> None:
    """Every `-d '{…}'` body is JSON once its shell variables are spliced in."""
    bodies = re.findall(r"-d '(\{.*?\})'", README.read_text(), re.DOTALL)
    assert len(bodies) > 30
    for raw in bodies:
        json.loads(re.sub(r"'\$[A-Z_]+'", "spliced", raw))


def test_every_setting_is_in_the_configuration_table() -> None:
    table = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(SUMP_[A-Z0-9_]+)`", table))
    assert {f"SUMP_{name.upper()}" for name in Settings.model_fields} <= listed
