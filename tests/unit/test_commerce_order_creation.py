"""One creator per order: two creations of one order's Commerce order that overlap make one order."""

import pytest

from amazon_channel.domain import mfn_workflow as mfn
from amazon_channel.domain.errors import CommerceOrderInProgress, CommerceRejected, CommerceUnavailable
from fakes import an_unshipped_order_read

ORDER = "113-0000000-0000041"


def a_paid_order():
    """An Unshipped order whose details the channel has read, with no Commerce order yet."""
    return an_unshipped_order_read(ORDER, changed_at="2026-12-02T10:00:02.000000Z")


def test_a_creation_that_overlaps_a_running_one_waits_and_commerce_gets_one_order():
    ports = a_paid_order()  # Given a paid order with no Commerce order yet
    commerce, overlapping = ports.commerce, []
    create = commerce.create_order

    def while_commerce_saves(draft):
        # When a second creation starts while the first waits for Commerce to save the order
        with pytest.raises(CommerceOrderInProgress) as refused:
            mfn.create_commerce_order(ORDER, None, ports, owner="second")
        overlapping.append(str(refused.value))
        return create(draft)

    commerce.create_order = while_commerce_saves
    first = mfn.create_commerce_order(ORDER, None, ports, owner="first")
    commerce.create_order = create
    # Then the second is told to come back later, and Commerce holds one order
    assert overlapping and "its Commerce order is being created by another invocation" in overlapping[0]
    assert len(commerce.orders) == 1
    # And when the second comes back, it finds that order, and no lease is left behind
    assert mfn.create_commerce_order(ORDER, None, ports, owner="second") == first
    assert len(commerce.orders) == 1
    order = ports.orders.get(ORDER)
    assert order.create_lease is None and order.commerce.increment_id == first["commerce_increment_id"]


def test_a_lease_left_by_a_killed_creator_expires_and_the_retry_adopts_the_order_commerce_saved():
    ports = a_paid_order()  # Given a creation killed after Commerce saved the order
    commerce = ports.commerce
    create = commerce.create_order

    def killed(draft):
        create(draft)
        raise SystemExit("Sandbox.Timedout")  # not an Exception: nothing in the handler runs after it

    commerce.create_order = killed
    with pytest.raises(SystemExit):
        mfn.create_commerce_order(ORDER, None, ports, owner="killed", lease_seconds=0.0)
    commerce.create_order = create
    assert ports.orders.get(ORDER).create_lease.owner == "killed"
    # When the retry runs once the lease has expired
    result = mfn.create_commerce_order(ORDER, None, ports, owner="retry")
    # Then it adopts the order Commerce saved: one Commerce order, recorded once
    assert len(commerce.orders) == 1 and result["commerce_order_id"] == 1
    assert ports.orders.get(ORDER).create_lease is None


def test_a_refused_creation_releases_its_lease_and_an_uncertain_one_keeps_it_until_it_expires():
    ports = a_paid_order()  # Given Commerce refusing the order, then not answering
    commerce = ports.commerce
    create = commerce.create_order

    def refuses(draft):
        raise CommerceRejected("POST /V1/orders answered 400: a field Magento refuses")

    def times_out(draft):
        raise CommerceUnavailable("POST /V1/orders: read timed out (the save may still land)")

    # When Commerce refuses it, then the lease is released at once: nothing was made
    commerce.create_order = refuses
    with pytest.raises(CommerceRejected):
        mfn.create_commerce_order(ORDER, None, ports, owner="first")
    assert ports.orders.get(ORDER).create_lease is None
    # When Commerce does not answer, then the lease stays: a retry waits for it to expire
    commerce.create_order = times_out
    with pytest.raises(CommerceUnavailable):
        mfn.create_commerce_order(ORDER, None, ports, owner="second", lease_seconds=30.0)
    with pytest.raises(CommerceOrderInProgress):
        mfn.create_commerce_order(ORDER, None, ports, owner="retry")
    commerce.create_order = create
    assert ports.orders.get(ORDER).create_lease.owner == "second"
