"""The built wheel is complete: installed outside the checkout, `sump db upgrade` finds the migrations it ships.

The wheel is built from a copy of the sources (so the build leaves nothing in the shared checkout), with pip's
ordinary isolated build (setuptools from the package index). It is installed with `--no-deps` into a fresh
venv that has no pip and no Sump of its own; the venv sees the project's already installed dependencies through
a `.pth` line naming their site-packages directory. A directory named by a `.pth` line is only put on
`sys.path`, its own `.pth` files are not run, so the checkout's editable install of Sump stays invisible and
`import sump` can only find the installed wheel (the test checks that it does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from sqlalchemy import create_engine, inspect

from sump.db.tables import metadata
from tests.support import SECRET

CHECKOUT = Path(__file__).resolve().parents[1]
PROJECT_PIP = [sys.executable, "-m", "pip"]


def run(command: list[str], cwd: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("SUMP_", "PYTHON"))}
    done = subprocess.run(  # noqa: S603
        command, cwd=cwd, env={**clean, **environment}, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def build_wheel(workspace: Path) -> Path:
    sources = workspace / "sources"
    sources.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(CHECKOUT / name, sources / name)
    shutil.copytree(CHECKOUT / "src", sources / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run([*PROJECT_PIP, "wheel", "--no-deps", "--quiet", str(sources), "-w", str(workspace / "dist")], workspace)
    [wheel] = (workspace / "dist").glob("sump-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    """A fresh venv holding the wheel; its Python is returned."""
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], venv.parent)
    python = venv / "bin" / "python"
    run([*PROJECT_PIP, "--python", str(python), "install", "--no-deps", "--no-index", "--quiet", str(wheel)], venv)
    site_packages = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], venv).stdout.strip()
    )
    (site_packages / "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_installed_wheel_migrates_a_database_from_any_directory(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    python = install(wheel, tmp_path / "venv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    location = run([str(python), "-c", "import sump; print(sump.__file__)"], elsewhere).stdout.strip()
    assert Path(location).is_relative_to(tmp_path / "venv"), location

    database = elsewhere / "fresh.db"
    settings = {"SUMP_ENV": "test", "SUMP_SECRET_KEY": SECRET, "SUMP_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    sump = str(tmp_path / "venv" / "bin" / "sump")
    run([sump, "db", "upgrade"], elsewhere, **settings)
    assert "(head)" in run([sump, "db", "current"], elsewhere, **settings).stdout

    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == set(metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()

    run([sump, "db", "downgrade", "base"], elsewhere, **settings)
    assert "no migration applied" in run([sump, "db", "current"], elsewhere, **settings).stdout


def test_wheel_holds_every_file_of_the_package(tmp_path: Path) -> None:
    """Templates, stylesheets, scripts, word lists and migrations: what the package reads at run time is in the
    wheel (a non-editable install without the console's stylesheet refused to serve the console)."""
    import zipfile

    package = CHECKOUT / "src"
    expected = {
        str(path.relative_to(package))
        for path in (package / "sump").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    with zipfile.ZipFile(build_wheel(tmp_path)) as wheel:
        shipped = {name for name in wheel.namelist() if name.startswith("sump/")}
    assert sorted(expected - shipped) == []
