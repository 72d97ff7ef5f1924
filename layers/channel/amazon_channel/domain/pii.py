"""Buyer data kept no longer than the retention period after an order ends.

Amazon's Data Protection Policy: PII is kept no longer than 30 days after order delivery, and
only to fulfil the order, calculate and remit taxes, produce tax invoices, or meet legal
requirements. The channel needs the buyer's name, email, phone and address only to create the
Commerce order (which keeps its own copy, under the merchant's control); once the order has
ended (Shipped or Canceled, Amazon's terminal statuses) the channel's copy is kept for
`retention_days` and then removed: from the order (the searched or fetched order, the Commerce
customer's email) and from every message kept beside it. The Orders view keeps the order's row,
with `orders_view.BUYER_REMOVED` as the buyer's name.

Shipped is before delivery, so counting from the end of the order is never later than the
policy's count from delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from .clock import iso
from .errors import VersionConflict
from .models import ChannelOrder, ChannelStatus, HistoryEntry
from .ports import OrderStore

ENDED = (ChannelStatus.SHIPPED, ChannelStatus.CANCELED)

# Keys that hold a buyer's personal data wherever the channel keeps a document (order, history,
# kept notifications): Amazon's order (v2026-01-01 and v0), ORDER_CHANGE, Commerce customers.
PII_KEYS = frozenset(
    {
        "buyer_name",
        "buyer_email",
        "ship_to",
        "customer_email",
        "email",
        "phone",
        "telephone",
        "firstname",
        "lastname",
        "buyer",
        "recipient",
        "deliveryAddress",
        "shippingAddress",
        "buyerInfo",
        "BuyerInfo",
        "ShippingAddress",
        "BuyerEmail",
        "BuyerName",
        "DestinationPostalCode",
    }
)


def note_ending(order: ChannelOrder, at: str) -> None:
    """Stamp when the order ended (Shipped or Canceled); an order that moves on is not ended."""
    if order.channel_status in ENDED:
        if order.ended_at is None:
            order.ended_at = at
    else:
        order.ended_at = None


def holds_pii(order: ChannelOrder) -> bool:
    d = order.details
    return bool(
        (d is not None and (d.buyer_name or d.buyer_email or d.ship_to is not None))
        or (order.commerce is not None and order.commerce.customer_email)
    )


def remove_from_order(order: ChannelOrder, at: str) -> bool:
    """Remove the buyer's data from the order; False when there was none left."""
    if not holds_pii(order):
        return False
    if order.details is not None:
        order.details.buyer_name = None
        order.details.buyer_email = None
        order.details.ship_to = None
    if order.commerce is not None:
        order.commerce.customer_email = None
    order.pii_removed_at = at
    return True


def strip(doc: Any) -> tuple[Any, bool]:
    """`doc` without any `PII_KEYS` at any depth, and whether anything was removed."""
    if isinstance(doc, dict):
        changed = False
        out = {}
        for k, v in doc.items():
            if k in PII_KEYS and v not in (None, "", [], {}):
                changed = True
                continue
            out[k], c = strip(v)
            changed = changed or c
        return out, changed
    if isinstance(doc, list):
        items = [strip(v) for v in doc]
        return [v for v, _ in items], any(c for _, c in items)
    return doc, False


class RetentionLedger(Protocol):
    """The ended orders that still hold buyer data, by the time they ended; and the kept
    documents beside an order (history, received messages)."""

    def due(self, ended_before: str) -> list[tuple[str, str]]:
        """(ended_at, amazon_order_id) of orders that ended before `ended_before`."""
        ...

    def forget(self, ended_at: str, amazon_order_id: str) -> None: ...

    def strip_kept_documents(self, amazon_order_id: str) -> int:
        """Remove `PII_KEYS` from every document kept beside the order; returns how many changed."""
        ...


@dataclass
class RetentionReport:
    removed: list[str] = field(default_factory=list)  # orders whose buyer data was removed now
    skipped: list[str] = field(default_factory=list)  # no longer ended, or already without buyer data
    documents: int = 0  # kept documents (history, messages) rewritten
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "removed": len(self.removed),
            "skipped": len(self.skipped),
            "documents": self.documents,
            "failed": self.failed,
        }


def remove_expired_pii(
    orders: OrderStore, ledger: RetentionLedger, now: datetime, retention_days: int, attempts: int = 6
) -> RetentionReport:
    """Remove the buyer data of every order that ended more than `retention_days` before `now`.

    Safe to repeat and to run twice at once: each kept document is rewritten only while it still
    holds PII, the order is saved conditioned on its version (a concurrent change makes us reload),
    and an order's ledger entry is forgotten only after both.
    """
    report = RetentionReport()
    cutoff = iso(now - timedelta(days=retention_days))
    at = iso(now)
    for ended_at, amazon_order_id in ledger.due(cutoff):
        try:
            order = orders.get(amazon_order_id)
            if order is None or order.ended_at != ended_at:
                # no longer ended (or ended again later, with an entry of its own)
                ledger.forget(ended_at, amazon_order_id)
                report.skipped.append(amazon_order_id)
                continue
            report.documents += ledger.strip_kept_documents(amazon_order_id)
            changed = _remove_with_retries(
                orders, amazon_order_id, ended_at, days=retention_days, at=at, attempts=attempts
            )
            (report.removed if changed else report.skipped).append(amazon_order_id)
            ledger.forget(ended_at, amazon_order_id)
        except VersionConflict:
            report.failed.append(amazon_order_id)  # kept in the ledger: the next run does it
    return report


def _remove_with_retries(
    orders: OrderStore, amazon_order_id: str, ended_at: str, *, days: int, at: str, attempts: int
) -> bool:
    for _ in range(attempts):
        order = orders.get(amazon_order_id)
        if order is None or order.ended_at != ended_at or not remove_from_order(order, at):
            return False
        order.version += 1
        order.updated_at = at
        try:
            orders.save(
                order,
                [
                    HistoryEntry(
                        at=at,
                        kind="retention",
                        message=f"Buyer name, email, phone and address removed ({days} days after the order ended)",
                    )
                ],
            )
            return True
        except VersionConflict:
            continue
    raise VersionConflict(f"order {amazon_order_id} kept changing; retry later")
