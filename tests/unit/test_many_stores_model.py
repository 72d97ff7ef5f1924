"""The many-stores benchmark's model stays runnable and honest: a tiny backlog of two stores, each
with a broken neighbour, is imported without a function waiting for the rate budget.

The figures themselves (times, ratios) are the benchmark's to print (`bench/many_stores.py`), never
asserted here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def many_stores():
    sys.path.insert(0, str(BENCH))
    try:
        import many_stores  # type: ignore[import-not-found]  # bench/ is put on the path just above

        yield many_stores
    finally:
        sys.path.remove(str(BENCH))


def test_two_stores_backlogs_are_imported_through_the_handlers_intake_and_the_sync(many_stores):
    # Given two stores whose 30 paid orders each wait in the one notifications queue
    plan = many_stores.Plan("many", [30, 30])
    # When the channel drains them on the simulated clock
    figures = many_stores.run_case(plan)
    # Then every order is imported, no function waited for the rate budget, no 429 was sent
    assert figures["imported"] == 60
    assert figures["lambda_seconds_waiting"] == {}
    assert figures["throttled_429_sent"] == 0
    assert figures["getOrder_calls"] <= 60  # never more reads than orders: each read once, by one path


def test_a_store_with_revoked_credentials_leaves_the_healthy_one_imported(many_stores):
    # Given three stores, the first's refresh token revoked, the second refused by Commerce
    plan = many_stores.Plan("broken", [20, 20, 20], revoked=frozenset({0}), refused=frozenset({1}))
    # When the backlogs are drained
    figures = many_stores.run_case(plan)
    # Then the healthy store's orders are all imported, and the broken stores' orders show Error
    assert figures["imported"] == figures["healthy_orders"] == 20
    assert set(figures["broken_store_orders_in_error"]) == {many_stores.seller(0), many_stores.seller(1)}
