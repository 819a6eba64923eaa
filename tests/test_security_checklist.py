"""Every row of the security checklist (`spec/security-checklist.md`, 87 rows) has at least one test marked
`@pytest.mark.asvs("ROW-ID")`, and every mark names a row. The rows are copied here: the checklist lives outside
the repository. The marks are read from the test sources, statically, wherever `pytest.mark.asvs(...)` is
written (a decorator, `pytestmark`, `pytest.param(marks=...)`)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).parent

ROWS = (
    *(f"PWD-{n:02d}" for n in range(1, 14)),
    *(f"AUTH-{n:02d}" for n in range(1, 9)),
    *(f"SESS-{n:02d}" for n in range(1, 13)),
    *(f"JWT-{n:02d}" for n in range(1, 8)),
    *(f"RST-{n:02d}" for n in range(1, 12)),
    *(f"AC-{n:02d}" for n in range(1, 11)),
    *(f"VAL-{n:02d}" for n in range(1, 11)),
    *(f"LOG-{n:02d}" for n in range(1, 9)),
    *(f"REL-{n:02d}" for n in range(1, 9)),
)


def _is_asvs_mark(call: ast.Call) -> bool:
    """`pytest.mark.asvs(...)` or `mark.asvs(...)`."""
    function = call.func
    if not isinstance(function, ast.Attribute) or function.attr != "asvs":
        return False
    owner = function.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
        isinstance(owner, ast.Name) and owner.id == "mark"
    )


def marks_in(source: str, where: str) -> list[tuple[str, str]]:
    """(row id, where) for each id an `asvs` mark of `source` names; an argument that is not a string literal
    is reported as such, since it cannot be checked."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not _is_asvs_mark(node):
            continue
        if not node.args or node.keywords:
            found.append((f"<an asvs mark without row ids at line {node.lineno}>", where))
        for argument in node.args:
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.append((argument.value, f"{where}:{node.lineno}"))
            else:
                found.append((f"<not a string literal at line {node.lineno}>", where))
    return found


def marked() -> dict[str, list[str]]:
    """Each id the tests' marks name, with where it is named."""
    places: dict[str, list[str]] = defaultdict(list)
    for path in sorted(TESTS.rglob("*.py")):
        for row, where in marks_in(path.read_text(), str(path.relative_to(TESTS.parent))):
            places[row].append(where)
    return places


def test_the_rows_are_the_checklists_87() -> None:
    assert len(ROWS) == len(set(ROWS)) == 87
    assert ROWS[0] == "PWD-01"
    assert ROWS[-1] == "REL-08"


def test_marks_are_read_wherever_they_are_written() -> None:
    source = '''
import pytest
from pytest import mark

pytestmark = [pytest.mark.asvs("REL-01")]

@pytest.mark.asvs("PWD-01", "PWD-02")
@pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.asvs("AC-01"))])
def test_one(x): ...

@mark.asvs("LOG-01")
def test_two(): ...

@pytest.mark.other("JWT-01")
def test_three(): ...

def test_four():
    """pytest.mark.asvs("SESS-01") in a docstring is no mark."""
'''
    assert sorted(row for row, _ in marks_in(source, "sample.py")) == ["AC-01", "LOG-01", "PWD-01", "PWD-02", "REL-01"]
    assert [row for row, _ in marks_in("pytest.mark.asvs(ROW)", "x.py")] == ["<not a string literal at line 1>"]
    assert [row for row, _ in marks_in("pytest.mark.asvs()", "x.py")] == ["<an asvs mark without row ids at line 1>"]


def test_every_row_of_the_checklist_has_a_marked_test() -> None:
    places = marked()
    assert len(places) > 50  # the test sources were read
    untested = [row for row in ROWS if row not in places]
    assert untested == [], f"rows with no test marked @pytest.mark.asvs: {', '.join(untested)}"


def test_every_mark_names_a_row_of_the_checklist() -> None:
    unknown = {row: where for row, where in marked().items() if row not in ROWS}
    assert unknown == {}, "asvs marks naming no row of the checklist (a typo?): " + "; ".join(
        f"{row} at {', '.join(where)}" for row, where in sorted(unknown.items())
    )
