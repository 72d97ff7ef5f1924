"""One confirmer per order: two confirmations of one order that overlap confirm each package once."""

import pytest

from amazon_channel.domain import mfn_workflow as mfn
from amazon_channel.domain.errors import ConfirmationInProgress
from amazon_channel.domain.models import AmazonPackage, CommerceShipment
from amazon_channel.domain.shipments import record_commerce_shipment
from fakes import an_unshipped_order_read

ORDER = "113-0000000-0000031"


def a_shipped_commerce_order():
    """An Unshipped order in Commerce, which the merchant has shipped (one package to confirm)."""
    ports = an_unshipped_order_read(ORDER)
    mfn.create_commerce_order(ORDER, None, ports)
    ports.commerce.shipments[7] = CommerceShipment(
        id=7, order_id=1, carrier="UPS", tracking_number="1Z9", items=[("MUG-01", 2)]
    )
    record_commerce_shipment(1, 7, ports)
    return ports


def test_a_confirmation_that_overlaps_a_running_one_waits_and_confirms_nothing_twice():
    ports = a_shipped_commerce_order()  # Given a package to confirm
    amazon, overlapping = ports.marketplace, []
    confirm = amazon.confirm_shipment

    def while_amazon_answers(seller_id, confirmation):
        # When a second confirmation of the order starts while the first waits for Amazon
        with pytest.raises(ConfirmationInProgress) as refused:
            mfn.confirm_shipments(ORDER, ports, owner="second")
        overlapping.append(str(refused.value))
        return confirm(seller_id, confirmation)

    amazon.confirm_shipment = while_amazon_answers
    result = mfn.confirm_shipments(ORDER, ports, owner="first")
    amazon.confirm_shipment = confirm
    # Then the second is told to come back later, and Amazon has the package once
    assert overlapping and "being confirmed by another invocation" in overlapping[0]
    assert result["all_shipped"] is True and len(amazon.confirmations) == 1
    # And when the second comes back, there is nothing left to confirm, and no lease is left behind
    assert mfn.confirm_shipments(ORDER, ports, owner="second")["all_shipped"] is True
    assert len(amazon.confirmations) == 1
    order = ports.orders.get(ORDER)
    assert order.confirm_lease is None and order.channel_status == "Shipped"
    assert [h.message for h in ports.orders.history(ORDER)].count(
        "Package 7 confirmed to Amazon (confirmShipment)"
    ) == 1


def test_a_lease_left_by_a_killed_invocation_expires_and_the_package_is_looked_up_first():
    ports = a_shipped_commerce_order()  # Given an invocation that took the lease, called Amazon, and was killed
    amazon = ports.marketplace
    confirm = amazon.confirm_shipment

    def killed(seller_id, confirmation):
        confirm(seller_id, confirmation)
        raise SystemExit("Sandbox.Timedout")  # not an Exception: nothing in the handler runs after it

    amazon.confirm_shipment = killed
    with pytest.raises(SystemExit):
        mfn.confirm_shipments(ORDER, ports, owner="killed", lease_seconds=0.0)
    amazon.confirm_shipment = confirm
    assert ports.orders.get(ORDER).confirm_lease.owner == "killed"
    # Amazon's copy of the order now has the package
    amazon.orders[ORDER].packages.append(
        AmazonPackage(package_reference_id="7", carrier="UPS", tracking_number="1Z9", items=[("100", 2)])
    )
    # When the retry runs once the lease has expired
    assert mfn.confirm_shipments(ORDER, ports, owner="retry")["all_shipped"] is True
    # Then Amazon is asked (getOrder), not sent the package again
    assert len(amazon.confirmations) == 1
    assert "Package 7 found on Amazon (getOrder): an earlier confirmShipment had been applied" in [
        h.message for h in ports.orders.history(ORDER)
    ]
