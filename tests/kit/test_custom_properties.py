"""The nesting measure every write checks and every view of an account reads: it counts what the JSON's own
definition counts, for any value, and measures nestings far deeper than Python's recursion would allow."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sump.kit.custom_properties import depth

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
)


def levels(value: Any) -> int:
    """The definition: a scalar is 0; an object or array is 1 more than the deepest of its members."""
    if isinstance(value, dict):
        return 1 + max(map(levels, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(levels, value), default=0)
    return 0


@given(JSON)
def test_depth_counts_as_the_definition_does(value: Any) -> None:
    assert depth(value) == levels(value)


def test_depth_measures_what_recursion_could_not() -> None:
    value: Any = "bottom"
    for n in range(100_000):
        value = [value] if n % 2 else {"k": value}
    assert depth(value) == 100_000
