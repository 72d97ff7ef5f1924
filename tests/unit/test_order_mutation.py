"""Changing an order from a copy just read: no second read when nobody wrote since, and nothing
decided on a copy that another writer has overtaken."""

from __future__ import annotations

import pytest

from amazon_channel.domain.errors import ConfirmationInProgress
from amazon_channel.domain.models import ChannelOrder, HistoryEntry
from amazon_channel.domain.orders import entry, load, mutate
from fakes import an_unshipped_order_read

ORDER = "113-0000001-0000501"


class CountingReads:
    """The order store, counting reads."""

    def __init__(self, inner):
        self.inner, self.reads = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get(self, amazon_order_id):
        self.reads += 1
        return self.inner.get(amazon_order_id)


def _note(text: str):
    def change(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.notes == text:
            return None
        o.notes = text
        return [entry("step", text)]

    return change


def refuse_while_busy(o: ChannelOrder) -> list[HistoryEntry] | None:
    """A change that refuses while the order is noted "Busy" (another invocation holds it), else
    counts an import attempt."""
    if o.notes == "Busy":
        raise ConfirmationInProgress("another invocation holds the order")
    o.import_attempt += 1
    return []


def test_a_change_to_the_copy_just_read_is_saved_without_reading_again():
    # Given an Unshipped order the workflow has just read
    orders = CountingReads(an_unshipped_order_read(ORDER).orders)
    order = load(orders, ORDER)
    # When a step notes something on that copy
    saved = mutate(orders, ORDER, _note("Waiting for the merchant"), known=order)
    # Then it is saved from the copy (one read in all) and the caller's copy is left as it was
    assert orders.reads == 1
    assert saved.version == order.version + 1 and load(orders, ORDER).notes == "Waiting for the merchant"
    assert order.notes != "Waiting for the merchant"


def test_a_copy_overtaken_by_another_writer_is_read_again_and_the_change_applied_to_the_latest():
    # Given a copy read before another invocation changed the order
    orders = an_unshipped_order_read(ORDER).orders
    stale = load(orders, ORDER)
    mutate(orders, ORDER, _note("Changed by another invocation"))
    # When a change is applied from the stale copy
    saved = mutate(orders, ORDER, lambda o: setattr(o, "import_attempt", 3) or [], known=stale)
    # Then the conditional write refuses the stale copy, and the change lands on the latest one
    latest = load(orders, ORDER)
    assert saved.version == stale.version + 2 == latest.version
    assert latest.import_attempt == 3 and latest.notes == "Changed by another invocation"


def test_nothing_to_do_on_a_stale_copy_is_checked_on_the_latest():
    # Given a copy read while the notes still said "Old", then another writer wrote "Old" too late for it
    orders = an_unshipped_order_read(ORDER).orders
    mutate(orders, ORDER, _note("Old"))
    stale = load(orders, ORDER)
    mutate(orders, ORDER, _note("New"))
    # When "Old" is noted from the stale copy (which already says so)
    mutate(orders, ORDER, _note("Old"), known=stale)
    # Then the latest copy decided: it said "New", so "Old" is written
    assert load(orders, ORDER).notes == "Old"


def test_a_refusal_on_a_stale_copy_is_checked_on_the_latest():
    # Given a copy read while another invocation still held the order (noted "Busy"), released since
    orders = an_unshipped_order_read(ORDER).orders
    mutate(orders, ORDER, _note("Busy"))
    stale = load(orders, ORDER)

    mutate(orders, ORDER, _note("Released"))
    # When the change refuses on the stale copy
    saved = mutate(orders, ORDER, refuse_while_busy, known=stale)
    # Then it was applied again to the latest copy, which it accepts
    assert saved.import_attempt == stale.import_attempt + 1


def test_a_refusal_that_holds_on_the_latest_copy_is_raised():
    # Given an order another invocation holds, and a copy read after it took it
    orders = an_unshipped_order_read(ORDER).orders
    mutate(orders, ORDER, _note("Busy"))
    fresh = load(orders, ORDER)

    # When the change refuses on that copy, Then it refuses on the latest too, and the refusal is raised
    with pytest.raises(ConfirmationInProgress):
        mutate(orders, ORDER, refuse_while_busy, known=fresh)


def test_a_stale_copy_without_a_lease_never_takes_one_another_invocation_holds():
    from amazon_channel.domain.errors import CommerceOrderInProgress
    from amazon_channel.domain.mfn_workflow import _take_lease

    # Given a copy read before another invocation took the order's create lease
    ports = an_unshipped_order_read(ORDER)
    stale = load(ports.orders, ORDER)
    _take_lease(ports, load(ports.orders, ORDER), "create_lease", "the-other-invocation", 60.0)
    # When this invocation takes the lease from its stale copy, Then it is refused: one creator at a time
    with pytest.raises(CommerceOrderInProgress):
        _take_lease(ports, stale, "create_lease", "this-invocation", 60.0)
    assert load(ports.orders, ORDER).create_lease.owner == "the-other-invocation"


def test_the_trial_on_a_copy_is_not_counted_among_the_attempts():
    # Given a stale copy, and an order store that refuses the first write after each read
    orders = an_unshipped_order_read(ORDER).orders
    stale = load(orders, ORDER)
    mutate(orders, ORDER, _note("Moved on"))
    reads = CountingReads(orders)
    # When a change is applied with one attempt from the stale copy
    mutate(reads, ORDER, _note("Mine"), attempts=1, known=stale)
    # Then the trial failed on the version, and the one attempt (one read) still landed
    assert reads.reads == 1 and load(orders, ORDER).notes == "Mine"
