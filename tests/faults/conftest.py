"""A migrated throwaway PostgreSQL cluster per test module (and per xdist worker), which tests stop, freeze
and restart; each test leaves it running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sump.db import migrate
from tests.faults.cluster import Cluster, throwaway_cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as made:
        migrate.upgrade(made.url)
        yield made


@pytest.fixture
def running(cluster: Cluster) -> Iterator[Cluster]:
    """The module's cluster, running again after the test whatever the test did to it."""
    yield cluster
    cluster.restart()
