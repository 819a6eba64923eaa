"""SUMP_LOG_FORMAT chooses JSON lines or readable lines, whatever SUMP_ENV is; unset, prod logs JSON lines and the
other environments readable ones. Checked on the lines a real `sump` command writes to stderr: a misspelt variable
makes it log one warning record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sump.config import SettingsError, load_settings
from tests.support import SECRET

SUMP = Path(sys.executable).parent / "sump"
MISSPELT = "SUMP_LOG_FORMT"
WARNING = f"{MISSPELT} is not a Sump setting and is ignored; did you mean SUMP_LOG_FORMAT?"


def _stderr_lines(tmp_path: Path, env: str, log_format: str | None) -> list[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment |= {
        "SUMP_ENV": env,
        "SUMP_SECRET_KEY": SECRET,
        "SUMP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sump.db'}",
        MISSPELT: "json",
    }
    if log_format is not None:
        environment["SUMP_LOG_FORMAT"] = log_format
    done = subprocess.run(  # noqa: S603
        [str(SUMP), "db", "current"], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(no migration applied)"
    return done.stderr.splitlines()


def _json_records(lines: list[str]) -> list[dict[str, str]]:
    records = [json.loads(line) for line in lines]  # each line, whole, is one JSON object
    assert all(isinstance(record, dict) for record in records)
    return records


def _readable(lines: list[str]) -> list[str]:
    for line in lines:
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
    return lines


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_json_gives_one_json_object_a_line(tmp_path: Path, env: str) -> None:
    [record] = [record for record in _json_records(_stderr_lines(tmp_path, env, "json")) if MISSPELT in record["event"]]
    assert record["event"] == WARNING
    assert record["level"] == "warning"
    assert record["timestamp"].endswith("Z")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_text_gives_readable_lines(tmp_path: Path, env: str) -> None:
    [line] = [line for line in _readable(_stderr_lines(tmp_path, env, "text")) if MISSPELT in line]
    assert "[warning  ]" in line
    assert line.endswith(WARNING)


@pytest.mark.parametrize(("env", "json_lines"), [("prod", True), ("dev", False), ("test", False)])
def test_unset_follows_the_environment(tmp_path: Path, env: str, json_lines: bool) -> None:
    lines = _stderr_lines(tmp_path, env, None)
    if json_lines:
        assert WARNING in [record["event"] for record in _json_records(lines)]
    else:
        assert any(line.endswith(WARNING) for line in _readable(lines))


@pytest.mark.parametrize("value", ["yaml", "JSON ", ""])
def test_an_unknown_format_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SUMP_LOG_FORMAT", value)
    with pytest.raises(SettingsError, match="SUMP_LOG_FORMAT: Input should be 'json' or 'text'"):
        load_settings()


def test_an_unknown_format_stops_the_command(tmp_path: Path) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("SUMP_")}
    environment |= {"SUMP_LOG_FORMAT": "xml", "SUMP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sump.db'}"}
    done = subprocess.run(  # noqa: S603
        [str(SUMP), "db", "current"], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "SUMP_LOG_FORMAT: Input should be 'json' or 'text'" in done.stderr
    assert done.stdout == ""
