"""Row ids: RFC 9562 version 7, and in order of creation within one process even inside one millisecond (the
signing keys' ring, audit pages and every "newest first" list sort by them)."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

from sump.db.base import uuid7


def test_ids_made_in_one_millisecond_still_sort_by_creation() -> None:
    ids = [uuid7() for _ in range(20_000)]  # thousands per millisecond
    assert all(earlier < later for earlier, later in itertools.pairwise(ids))
    assert len({id_.int >> 80 for id_ in ids}) < len(ids)  # many did share a millisecond


def test_ids_are_version_7_with_the_rfc_variant_and_the_time_of_creation() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after


def test_ids_differ_in_more_than_a_counter() -> None:
    """The next id of a millisecond is not the previous one plus one: ids are not guessed from each other."""
    ids = [uuid7() for _ in range(2_000)]
    steps = {later.int - earlier.int for earlier, later in itertools.pairwise(ids)}
    assert len(steps) > len(ids) // 2


def test_ids_made_by_threads_at_once_are_all_distinct_and_ordered_per_thread() -> None:
    made: list[list[uuid.UUID]] = [[] for _ in range(4)]

    def make(index: int) -> None:
        made[index].extend(uuid7() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [id_ for ids in made for id_ in ids]
    assert len(set(everything)) == len(everything)
    for ids in made:
        assert all(earlier < later for earlier, later in itertools.pairwise(ids))
