"""The garbage collector of a served process: start-up objects frozen, young collections spaced out."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sump.serving import YOUNG_COLLECTION, collect_garbage_from_now_on


@pytest.fixture
def collector_off() -> Iterator[None]:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        (gc.enable if enabled else gc.disable)()


@pytest.mark.usefixtures("collector_off")
def test_serving_freezes_start_up_and_spaces_young_collections() -> None:
    older = gc.get_threshold()[1:]
    collect_garbage_from_now_on()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_COLLECTION, *older)


def test_a_process_whose_collector_runs_is_left_alone() -> None:
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert gc.isenabled()
    collect_garbage_from_now_on()
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
