"""Cancellations both ways, and buyers' cancellation requests.

- **Amazon (or the buyer on Amazon) cancels.** Intake marks the order `Canceled` and wakes its
  waiting workflow; the workflow's last step, `cancel_commerce_order`, withdraws the Commerce
  order if it has not shipped, with a comment saying why.
- **The merchant cancels in Commerce.** Commerce's cancel event (or, for an invoiced order, its
  full offline credit memo) reaches `record_commerce_cancellation`, which re-reads the order and
  accepts only an `Unshipped` order with a reason; anything else is refused with a note, on the
  channel order and as a comment on the Commerce order. An accepted one wakes the workflow, whose
  `request_amazon_cancellation` step sends it to Amazon (a cancellation feed) and follows the feed
  until Amazon has processed it. Amazon's own `ORDER_CHANGE` (Canceled) then ends the order like
  any other cancellation.
- **A buyer asks Amazon to cancel.** `IsBuyerRequestedCancel` in `ORDER_CHANGE` goes into the
  order's notes (`buyer_cancel_note`), so the merchant sees it before shipping.

Every step is safe to repeat: state is reloaded, written conditionally, and the Commerce and
Amazon calls are idempotent or checked before they are repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .clock import now_iso
from .errors import CommerceRejected
from .mfn_workflow import wake_if_waiting
from .models import (
    AmazonStatus,
    ChannelOrder,
    ChannelStatus,
    CommerceOrderRef,
    HistoryEntry,
    MerchantCancellation,
    OrderCancellation,
    OrderLine,
)
from .orders import ChannelPorts, entry, load, mutate

#: Every comment the channel writes on a Commerce order starts with this.
CHANNEL_COMMENT_PREFIX = "Amazon channel:"

#: The cancellation-reason-code values of the order cancellation feed.
REASON_CODES = (
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "CustomerReturn",
    "MerchandiseNotReceived",
)
_KEYWORDS = (
    (("stock", "inventory", "sold out", "unavailable", "discontinued"), "NoInventory"),
    (("address", "undeliverable"), "ShippingAddressUndeliverable"),
    (("exchange",), "CustomerExchange"),
    (("buyer", "customer asked", "customer request", "requested by the customer"), "BuyerCanceled"),
    (("carrier",), "CarrierCoverageFailure"),
    (("fraud", "risk"), "RiskAssessmentInformationNotValid"),
)

#: How often the workflow checks a cancellation feed Amazon has not processed (each check follows
#: the state machine's WaitForCancellationFeed) before it tells the merchant to look in Seller Central.
MAX_FEED_CHECKS = 60

_WITHDRAWN_STATES = {"canceled", "closed"}


@dataclass(frozen=True)
class CancellationOutcome:
    """What the channel did with a Commerce cancellation event, for logs and tests."""

    result: str  # requested | refused | duplicate | already-canceled | not-a-cancellation | not-an-amazon-order
    amazon_order_id: str | None = None


# ----------------------------------------------------------------------------- reasons and notes
def reason_code_for(reason: str, buyer_asked: bool = False) -> str:
    """The feed's cancellation-reason-code for the merchant's reason.

    A code given as the reason is used as is; a buyer who asked to cancel makes it BuyerCanceled
    (which does not count against the seller); otherwise a few keywords, else GeneralAdjustment.
    """
    text = reason.strip().lower()
    for code in REASON_CODES:
        if text.replace(" ", "") == code.lower():
            return code
    if buyer_asked:
        return "BuyerCanceled"
    for words, code in _KEYWORDS:
        if any(w in text for w in words):
            return code
    return "GeneralAdjustment"


def canceled_note(order: ChannelOrder) -> str:
    """The notes of an order Amazon has just canceled."""
    c = order.cancellation
    if c is not None and c.outcome != "refused":
        return f"Canceled from Commerce ({c.reason}); Amazon canceled the order"
    if order.commerce is not None:
        return f"Canceled on Amazon; withdrawing Commerce order {order.commerce.increment_id}"
    return "Canceled on Amazon"


def apply_amazon_cancellation(order: ChannelOrder) -> None:
    """Intake saw Amazon's `Canceled`: the merchant's pending request (if any) is settled."""
    c = order.cancellation
    if c is not None and c.outcome == "pending":
        c.outcome = "accepted"
        c.message = "Amazon canceled the order"
    order.notes = canceled_note(order)


def buyer_cancel_note(order: ChannelOrder, lines: list[OrderLine]) -> str | None:
    """The note for items the buyer has just asked Amazon to cancel, or None when nothing is new."""
    before = {ln.order_item_id for ln in order.lines if ln.buyer_requested_cancel}
    asked = [ln for ln in lines if ln.buyer_requested_cancel and ln.order_item_id not in before]
    if not asked or order.channel_status in (ChannelStatus.CANCELED, ChannelStatus.SHIPPED):
        return None
    skus = ", ".join(sorted({ln.sku for ln in asked}))
    if order.commerce is not None and order.channel_status == ChannelStatus.UNSHIPPED:
        where = f"cancel Commerce order {order.commerce.increment_id} with the reason BuyerCanceled"
    else:
        where = "cancel it in Seller Central"
    return f"Buyer asked Amazon to cancel ({skus}): do not ship; {where}"


# ----------------------------------------------------------------------------- Amazon cancels
def cancel_commerce_order(amazon_order_id: str, ports: ChannelPorts) -> dict[str, Any]:
    """MFN workflow, after Amazon canceled: withdraw the Commerce order unless it has shipped.

    Never fails the workflow for what Commerce refuses: the order stays `Canceled` and the note
    says what the merchant has to do in Commerce.
    """
    order = load(ports.orders, amazon_order_id)
    if order.commerce is None:
        return {"commerce_status": None}
    inc = order.commerce.increment_id
    ref = ports.commerce.get_order(order.commerce.order_id)
    if ref.state in _WITHDRAWN_STATES or (ref.qty_open == 0 and ref.qty_shipped == 0):
        # Withdrawn already: by the merchant (the cancellation came from Commerce) or by an earlier run.
        _release(ports, order, "withdrawal")
        if order.commerce.status != ref.status:
            note = (
                canceled_note(order)
                if order.cancellation
                else f"Canceled on Amazon; Commerce order {inc} is {ref.status}"
            )
            _settle_commerce(ports, amazon_order_id, ref, note)
        return {"commerce_status": ref.status}
    if ref.qty_shipped > 0:
        _leave_open(ports, amazon_order_id, ref, inc)
        return {"commerce_status": ref.status}
    return {"commerce_status": _withdraw(ports, order, ref, inc)}


def _leave_open(ports: ChannelPorts, amazon_order_id: str, ref: CommerceOrderRef, inc: str) -> None:
    """Items shipped before Amazon canceled: the Commerce order is left as it is, and says why."""
    note = (
        f"Canceled on Amazon after Commerce order {inc} shipped items: the order was left open "
        f"in Commerce; refund or recall the shipped items there"
    )
    ports.commerce.add_comment_once(
        ref.order_id,
        f"{CHANNEL_COMMENT_PREFIX} Amazon order {amazon_order_id} was canceled on Amazon after items of "
        f"this order shipped. Amazon refunds the buyer; the shipments were not confirmed to Amazon. "
        f"This order was left as it is.",
    )
    _settle_commerce(ports, amazon_order_id, ref, note)


def _withdraw(ports: ChannelPorts, order: ChannelOrder, ref: CommerceOrderRef, inc: str) -> str:
    """Withdraw the Commerce order (canceled, or refunded offline if invoiced); its status after."""
    amazon_order_id = order.amazon_order_id
    comment = (
        f"{CHANNEL_COMMENT_PREFIX} Amazon order {amazon_order_id} was canceled on Amazon (by the buyer "
        f"or by Amazon). This order is withdrawn: do not ship it. Amazon refunds the buyer."
    )
    try:
        ref = ports.commerce.cancel_order(ref.order_id, comment)
    except CommerceRejected as e:
        _settle_commerce(
            ports,
            amazon_order_id,
            ref,
            f"Canceled on Amazon; Commerce refused to withdraw order {inc} ({e}): cancel it in Commerce",
        )
        return ref.status
    _release(ports, order, "withdrawal")
    how = "canceled" if ref.state == "canceled" else f"{ref.status} (refunded offline: it was invoiced)"
    _settle_commerce(ports, amazon_order_id, ref, f"Canceled on Amazon; Commerce order {inc} {how}")
    return ref.status


def _release(ports: ChannelPorts, order: ChannelOrder, reason: str) -> None:
    """Give back to sale what a merchant-fulfilled order held for units Commerce no longer ships."""
    if order.fulfillment != "AFN" and order.commerce is not None:
        ports.commerce.release_held_units(order.commerce.order_id, reason)


def _settle_commerce(ports: ChannelPorts, amazon_order_id: str, ref: CommerceOrderRef, note: str) -> None:
    def settle(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.commerce is None or (o.commerce.status == ref.status and o.notes == note):
            return None
        o.commerce.status = ref.status
        o.notes = note
        return [entry("commerce", note, commerce_status=ref.status)]

    mutate(ports.orders, amazon_order_id, settle)


# ----------------------------------------------------------------------------- the merchant cancels
def record_commerce_cancellation(commerce_order_id: int, ports: ChannelPorts) -> CancellationOutcome:
    """The merchant canceled (or fully credited) a Commerce order: accept it for Amazon, or refuse.

    The Commerce event is only a wake-up: the order is read back from Commerce, so a forged or
    repeated event cannot cancel anything on Amazon.
    """
    ref = ports.commerce.get_order(commerce_order_id)
    amazon_order_id = ref.amazon_order_id
    if amazon_order_id is None:
        return CancellationOutcome("not-an-amazon-order")
    order = ports.orders.get(amazon_order_id)
    if order is None or order.commerce is None or order.commerce.order_id != commerce_order_id:
        return CancellationOutcome("not-an-amazon-order", amazon_order_id)
    if ref.qty_withdrawn == 0:
        return CancellationOutcome("not-a-cancellation", amazon_order_id)  # e.g. a credit memo of a fee
    # Whatever Amazon says, Commerce has withdrawn the units (and MSI placed its compensation).
    _release(ports, order, "cancellation" if ref.state == "canceled" else "credit memo")
    handled = _handled_already(order, ports)
    if handled:
        return CancellationOutcome(handled, amazon_order_id)

    reason = (ref.merchant_comment or "").strip()
    refusal = _refusal(order, ref, reason)
    if refusal:
        _refuse(ports, order, ref, reason or "no reason given", refusal)
        return CancellationOutcome("refused", amazon_order_id)

    code = reason_code_for(reason, buyer_asked=any(ln.buyer_requested_cancel for ln in order.lines))

    def record(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.cancellation is not None:
            return None
        o.cancellation = MerchantCancellation(
            commerce_order_id=commerce_order_id, reason=reason, reason_code=code, requested_at=now_iso()
        )
        o.notes = f"Cancellation from Commerce ({reason}): sending it to Amazon"
        return [
            entry(
                "cancellation",
                f"Commerce order {ref.increment_id} {ref.status} by the merchant: {reason}",
                reason_code=code,
            )
        ]

    order = mutate(ports.orders, amazon_order_id, record)
    wake_if_waiting(order, ports, "cancellation from Commerce")
    return CancellationOutcome("requested", amazon_order_id)


def _handled_already(order: ChannelOrder, ports: ChannelPorts) -> str | None:
    """`already-canceled` (Amazon canceled it first) or `duplicate` (a cancellation is on its way), else None."""
    if order.amazon_status == AmazonStatus.CANCELED or order.channel_status == ChannelStatus.CANCELED:
        return "already-canceled"
    if order.cancellation is None:
        return None
    if order.cancellation.outcome == "pending":
        wake_if_waiting(order, ports, "cancellation from Commerce")
    return "duplicate"


def _refusal(order: ChannelOrder, ref: CommerceOrderRef, reason: str) -> str | None:
    """Why this cancellation cannot go to Amazon, or None when it can: the first rule it breaks."""
    status = order.channel_status
    shipped_some = bool(order.shipments) or ref.qty_shipped > 0 or status == ChannelStatus.PARTIALLY_SHIPPED
    rules = (
        (order.fulfillment == "AFN", "Amazon fulfilled this order; it cannot be canceled by the seller"),
        (status == ChannelStatus.PENDING, "Pending orders are canceled in Seller Central"),
        (status == ChannelStatus.SHIPPED, "the order has shipped"),
        (shipped_some, "the order is partially shipped; partially shipped orders are canceled in Seller Central"),
        (
            status != ChannelStatus.UNSHIPPED,
            f"only Unshipped orders are canceled from Commerce (this one is {status.value})",
        ),
        (
            ref.qty_open > 0,
            f"only whole orders are canceled from Commerce ({ref.qty_withdrawn} of {ref.qty_ordered} items "
            f"were withdrawn); cancel single items in Seller Central",
        ),
        (not reason, "a cancellation needs a reason (the merchant's comment on the Commerce order)"),
    )
    return next((why for broken, why in rules if broken), None)


def _refuse(ports: ChannelPorts, order: ChannelOrder, ref: CommerceOrderRef, reason: str, refusal: str) -> None:
    note = f"Not canceled on Amazon: {refusal}"

    def refused(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.cancellation is not None:
            return None
        o.cancellation = MerchantCancellation(
            commerce_order_id=ref.order_id,
            reason=reason,
            reason_code="",
            requested_at=now_iso(),
            outcome="refused",
            message=refusal,
        )
        o.notes = note
        return [entry("cancellation", f"Cancellation of Commerce order {ref.increment_id} refused: {refusal}")]

    mutate(ports.orders, order.amazon_order_id, refused)
    # Commerce has already done what the merchant asked; the channel cannot undo it, so it says there
    # what Amazon still expects.
    ports.commerce.add_comment_once(
        ref.order_id,
        f"{CHANNEL_COMMENT_PREFIX} Amazon order {order.amazon_order_id} was NOT canceled on Amazon: {refusal}. "
        f"Amazon still expects it to ship.",
    )


# ----------------------------------------------------------------------------- ... and Amazon hears of it
def request_amazon_cancellation(amazon_order_id: str, ports: ChannelPorts) -> dict[str, str]:
    """MFN workflow: send the merchant's cancellation to Amazon once, then follow the feed.

    Returns `cancellation`: `pending` (check again after a wait), `accepted` or `refused`.
    """
    order = load(ports.orders, amazon_order_id)
    c = order.cancellation
    if c is None or c.outcome != "pending":
        return {"cancellation": c.outcome if c else "none"}
    if order.amazon_status == AmazonStatus.CANCELED or (
        # An earlier attempt may have reached Amazon before the task died: look before sending
        # again. (A second feed for an order already canceled only earns an error row.)
        c.feed_id is None and c.submit_attempted_at and _canceled_on_amazon(order, ports)
    ):
        return {"cancellation": _conclude(ports, amazon_order_id, True, "Amazon canceled the order")}
    if c.feed_id is None:
        c = _send_feed(order, c, ports)
    return {"cancellation": _follow_feed(order, c, ports)}


def _canceled_on_amazon(order: ChannelOrder, ports: ChannelPorts) -> bool:
    return ports.marketplace.get_order(order.seller_id, order.amazon_order_id).status == AmazonStatus.CANCELED


def _send_feed(order: ChannelOrder, c: MerchantCancellation, ports: ChannelPorts) -> MerchantCancellation:
    """Send the cancellation feed, noting the attempt first; the cancellation with its feed id."""
    amazon_order_id = order.amazon_order_id

    def attempting(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.cancellation is None:
            return None
        o.cancellation.submit_attempted_at = now_iso()
        return []

    mutate(ports.orders, amazon_order_id, attempting)
    items = (
        [i.order_item_id for i in order.details.items] if order.details else [ln.order_item_id for ln in order.lines]
    )
    feed_id = ports.marketplace.request_cancellation(
        order.seller_id,
        OrderCancellation(
            amazon_order_id=amazon_order_id,
            marketplace_id=order.marketplace_id,
            order_item_ids=items,
            reason_code=c.reason_code,
        ),
    )

    def sent(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.cancellation is None or o.cancellation.feed_id is not None:
            return None
        o.cancellation.feed_id = feed_id
        if o.channel_status != ChannelStatus.CANCELED:
            o.notes = f"Cancellation from Commerce ({o.cancellation.reason}) sent to Amazon (feed {feed_id})"
        return [entry("sp-api", f"Cancellation feed {feed_id} sent ({o.cancellation.reason_code})")]

    return mutate(ports.orders, amazon_order_id, sent).cancellation or c.model_copy(update={"feed_id": feed_id})


def _follow_feed(order: ChannelOrder, c: MerchantCancellation, ports: ChannelPorts) -> str:
    """Amazon's processing of the feed: `pending` while it has not, then accepted or refused."""
    amazon_order_id = order.amazon_order_id
    result = ports.marketplace.cancellation_result(order.seller_id, c.feed_id or "")
    if result.accepted is None:
        if c.polls + 1 >= MAX_FEED_CHECKS:
            return _conclude(
                ports,
                amazon_order_id,
                False,
                f"Amazon had not processed cancellation feed {c.feed_id} after {MAX_FEED_CHECKS} checks; "
                f"see it in Seller Central",
            )

        def polled(o: ChannelOrder) -> list[HistoryEntry] | None:
            if o.cancellation is None:
                return None
            o.cancellation.polls += 1
            return []

        mutate(ports.orders, amazon_order_id, polled)
        return "pending"
    if not result.accepted and _canceled_on_amazon(order, ports):
        # e.g. an earlier feed, sent by an attempt whose answer was lost, canceled it first
        return _conclude(ports, amazon_order_id, True, "Amazon canceled the order")
    message = "Amazon accepted the cancellation" if result.accepted else f"Amazon refused it: {result.message}"
    return _conclude(ports, amazon_order_id, result.accepted, message)


def _conclude(ports: ChannelPorts, amazon_order_id: str, accepted: bool, message: str) -> str:
    outcome: Literal["accepted", "refused"] = "accepted" if accepted else "refused"

    def conclude(o: ChannelOrder) -> list[HistoryEntry] | None:
        c = o.cancellation
        if c is None or c.outcome != "pending":
            return None
        c.outcome, c.message = outcome, message
        if o.channel_status != ChannelStatus.CANCELED:
            o.notes = (
                f"Cancellation from Commerce ({c.reason}): {message}; waiting for Amazon to cancel the order"
                if accepted
                else f"Not canceled on Amazon: {message}"
            )
        return [entry("cancellation", f"Cancellation from Commerce {outcome}: {message}", feed_id=c.feed_id)]

    order = mutate(ports.orders, amazon_order_id, conclude)
    if not accepted and order.commerce is not None and order.cancellation and order.cancellation.outcome == "refused":
        ports.commerce.add_comment_once(
            order.commerce.order_id,
            f"{CHANNEL_COMMENT_PREFIX} Amazon order {amazon_order_id} was NOT canceled on Amazon: {message}. "
            f"Amazon still expects it to ship; cancel it in Seller Central.",
        )
    return order.cancellation.outcome if order.cancellation else outcome
