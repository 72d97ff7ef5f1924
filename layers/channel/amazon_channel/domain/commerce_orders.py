"""Creating the Commerce order for an Amazon order, exactly once, with Amazon's prices."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from .customers import Buyer, buyer_for
from .errors import AmazonTotalsDisagree, CustomerAlreadyExists
from .models import (
    Address,
    AmazonOrder,
    AmazonOrderItem,
    CommerceCustomer,
    CommerceOrderDraft,
    CommerceOrderLine,
    StoreConfig,
)
from .ports import CommerceStore

# model_construct: known-good constants, so no validator has to be built at import.
PLACEHOLDER_ADDRESS = Address.model_construct(
    name="Amazon Customer",
    line1="Address withheld by Amazon",
    city="Seattle",
    region="WA",
    postcode="98109",
    country="US",
    phone="0000000000",
)


class CustomerChoice(Buyer):
    """The buyer plus the Commerce customer account the order is placed for (None = guest)."""

    customer_id: int | None = None
    request_id: str | None = None  # of the Commerce call that found or created the account

    @property
    def is_guest(self) -> bool:
        return self.customer_id is None


def resolve_customer(details: AmazonOrder, store: StoreConfig, commerce: CommerceStore) -> CustomerChoice:
    """Guest checkout, or the buyer's Commerce account: reused if it exists, created once if not.

    Placeholder buyers (no email from Amazon) always check out as guests: an account for an
    invented address would help nobody.
    """
    buyer = buyer_for(details.amazon_order_id, details.buyer_name, details.buyer_email)
    if store.settings.customer_creation == "guest" or buyer.placeholder_email:
        return CustomerChoice(**buyer.model_dump())
    existing = commerce.find_customer(buyer.email, store.commerce_website_id)
    if existing is None:
        try:
            existing = commerce.create_customer(
                CommerceCustomer(
                    email=buyer.email,
                    firstname=buyer.firstname,
                    lastname=buyer.lastname,
                    website_id=store.commerce_website_id,
                    store_id=store.commerce_store_id,
                )
            )
        except CustomerAlreadyExists:
            # Another order of the same buyer created it a moment ago: use that one.
            existing = commerce.find_customer(buyer.email, store.commerce_website_id)
            if existing is None:
                raise
    return CustomerChoice(
        **buyer.model_dump(exclude={"firstname", "lastname"}),
        firstname=existing.firstname,
        lastname=existing.lastname,
        customer_id=existing.id,
        request_id=existing.request_id,
    )


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal("0"))


def check_amazon_totals(details: AmazonOrder) -> None:
    """Refuse an order whose breakdowns do not add up to Amazon's totals: never book another total."""
    for item in details.items:
        if item.proceeds_total is not None and item.total != item.proceeds_total:
            raise AmazonTotalsDisagree(
                f"Amazon order {details.amazon_order_id} item {item.order_item_id} ({item.sku}): its proceeds "
                f"add up to {item.total:.2f}, not Amazon's proceedsTotal {item.proceeds_total:.2f}"
            )
    if details.order_total is not None and details.total != details.order_total:
        raise AmazonTotalsDisagree(
            f"Amazon order {details.amazon_order_id}: its proceeds add up to {details.total:.2f}, not Amazon's "
            f"grandTotal {details.order_total:.2f}"
        )


def _handling_charges(details: AmazonOrder) -> list[tuple[str, Decimal]]:
    """Amazon's charges besides shipping that go into Commerce's Shipping & Handling, by name."""
    items = details.items
    charges = [
        ("gift wrap", _sum(i.gift_wrap_price for i in items)),
        ("cash on delivery fee", _sum(i.cod_fee for i in items)),
        ("other Amazon charges", _sum(i.other_charges for i in items)),
        ("delivery tip", details.delivery_tip),
    ]
    return [(label, amount) for label, amount in charges if amount]


def _order_line(item: AmazonOrderItem) -> CommerceOrderLine:
    """An Amazon item as a Commerce order line, at Amazon's price."""
    return CommerceOrderLine(
        sku=item.sku,
        name=item.title or item.sku,
        qty=item.qty,
        price=item.unit_price,
        row_total=item.row_price,
        tax=item.line_tax,
        discount=item.discount,
        amazon_order_item_id=item.order_item_id,
    )


def build_draft(details: AmazonOrder, store: StoreConfig, customer: CustomerChoice, status: str) -> CommerceOrderDraft:
    """The Commerce order as Amazon charged it, unrepriced; its grand total is Amazon's order total.

    Item price, tax and promotion go on the item lines. Shipping, gift wrap, cash on delivery fee,
    other charges and a delivery tip make Commerce's Shipping & Handling (a field every edition
    has), their taxes its shipping tax, their promotions its shipping discount; the shipping
    description names every charge in it besides shipping.
    """
    check_amazon_totals(details)
    ship_to = details.ship_to or PLACEHOLDER_ADDRESS
    if not ship_to.name:
        ship_to = ship_to.model_copy(update={"name": f"{customer.firstname} {customer.lastname}"})
    items = details.items
    charges = _handling_charges(details)
    lines = [_order_line(item) for item in items]
    shipping_discount = _sum(i.shipping_discount for i in items)
    has_discount = bool(shipping_discount or any(ln.discount for ln in lines))
    return CommerceOrderDraft(
        amazon_order_id=details.amazon_order_id,
        increment_id=details.amazon_order_id if store.settings.order_number_source == "amazon" else None,
        store_id=store.commerce_store_id,
        currency=details.currency,
        customer_id=customer.customer_id,
        customer_is_guest=customer.is_guest,
        customer_email=customer.email,
        customer_firstname=customer.firstname,
        customer_lastname=customer.lastname,
        billing_address=ship_to,
        shipping_address=ship_to,
        lines=lines,
        shipping_amount=_sum(i.shipping_price for i in items) + _sum(amount for _, amount in charges),
        shipping_tax=_sum(i.shipping_tax + i.gift_wrap_tax + i.cod_fee_tax + i.other_tax for i in items),
        shipping_discount=shipping_discount,
        discount_description="Amazon promotion" if has_discount else None,
        handling_charges=charges,
        status=status,
        fulfillment=details.fulfillment,
    )
