"""The small interfaces the domain talks to. Adapters implement them; tests swap them.

Nothing here imports boto3 or an HTTP library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .models import (
    AmazonOrder,
    CancellationFeedResult,
    ChannelOrder,
    CommerceCustomer,
    CommerceOrderDraft,
    CommerceOrderRef,
    CommerceShipment,
    HistoryEntry,
    OrderCancellation,
    PackageConfirmation,
    StoreConfig,
)

if TYPE_CHECKING:  # only annotations here: a handler that needs neither pays for neither at import
    from .orders_view import OrderPage, OrderQuery
    from .sync_state import SyncState


class OrderStore(Protocol):
    """Channel order state, versioned, with an append-only history."""

    def get(self, amazon_order_id: str) -> ChannelOrder | None: ...

    def put_new(self, order: ChannelOrder, history: list[HistoryEntry]) -> bool:
        """Create the order if it does not exist. False when it already existed."""

    def save(self, order: ChannelOrder, history: list[HistoryEntry]) -> None:
        """Write `order` if its stored version is still `order.version - 1`.

        Raises `VersionConflict` otherwise. History entries are appended in the same transaction.
        """

    def append_history(self, amazon_order_id: str, entries: list[HistoryEntry]) -> None: ...

    def history(self, amazon_order_id: str) -> list[HistoryEntry]: ...


class OrderQueries(Protocol):
    """The Orders view's reads: pages of order rows (never a table scan)."""

    def list_orders(self, query: OrderQuery) -> OrderPage:
        """One page of `query.seller_id`'s orders matching every filter, newest purchase first.

        `next_cursor` is set when more may follow (a page can hold fewer than `query.limit` rows when
        filters skip many orders); a cursor from another query raises `InvalidQuery`.
        """


class StoreDirectory(Protocol):
    """The connected Amazon stores and their settings."""

    def find(self, seller_id: str, marketplace_id: str) -> StoreConfig | None: ...

    def connected(self) -> list[StoreConfig]:
        """Every connected store (the order sync runs once per store)."""


class Marketplace(Protocol):
    """Amazon, seen through the Selling Partner API."""

    def get_order(self, seller_id: str, amazon_order_id: str) -> AmazonOrder: ...

    def confirm_shipment(self, seller_id: str, confirmation: PackageConfirmation) -> str:
        """Confirm one package. Returns Amazon's request id."""

    def request_cancellation(self, seller_id: str, cancellation: OrderCancellation) -> str:
        """Send a seller cancellation of a whole order (a cancellation feed). Returns the feed id."""

    def cancellation_result(self, seller_id: str, feed_id: str) -> CancellationFeedResult:
        """Where Amazon is with a cancellation feed; once processed, whether it was accepted."""


class CommerceStore(Protocol):
    """Adobe Commerce, seen through its REST API."""

    def find_customer(self, email: str, website_id: int) -> CommerceCustomer | None: ...

    def create_customer(self, customer: CommerceCustomer) -> CommerceCustomer:
        """Raises `CustomerAlreadyExists` when Commerce already has that email."""

    def find_order_by_amazon_id(self, amazon_order_id: str) -> CommerceOrderRef | None: ...

    def create_order(self, draft: CommerceOrderDraft) -> CommerceOrderRef:
        """Create the order with Amazon's prices, invoiced (paid on Amazon), no emails."""

    def ship_order(self, order_id: int, shipment: CommerceShipment) -> int:
        """Create a shipment (used for FBA orders Amazon already shipped). Returns its id."""

    def get_order(self, order_id: int) -> CommerceOrderRef: ...

    def get_shipment(self, shipment_id: int) -> CommerceShipment: ...

    def shipment_ids(self, order_id: int) -> list[int]:
        """The ids of the order's shipments, oldest first."""

    def add_comment(self, order_id: int, comment: str, status: str | None = None) -> None: ...

    def add_comment_once(self, order_id: int, comment: str) -> None:
        """Add a comment the order does not have yet (a repeated call adds nothing)."""

    def cancel_order(self, order_id: int, comment: str) -> CommerceOrderRef:
        """Withdraw an order that has not shipped, with a comment saying why. Safe to repeat.

        Magento cancels an order only while something is left to invoice; an invoiced order is
        withdrawn with an offline credit memo of everything (Magento then closes it).
        """

    def release_held_units(self, order_id: int, reason: str) -> None:
        """Give back to sale what this merchant-fulfilled order holds and Commerce no longer has to
        ship (units shipped, canceled or refunded), `reason` naming why (e.g. "shipment 7").

        Safe to repeat and in any order: each release is written on the order, and what is still
        held is recomputed from the order each time. An order that holds nothing is left alone.
        """


class EventPublisher(Protocol):
    """The channel's own event bus."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class WorkflowStarter(Protocol):
    """Starts and wakes the merchant-fulfilled workflow."""

    def start(self, amazon_order_id: str, payload: dict[str, Any], attempt: int = 0) -> bool:
        """Start the order's workflow. False when it was already started (a no-op).

        `attempt` > 0 is a retry of a blocked order: a new execution, itself started at most once.
        """

    def wake(self, task_token: str, output: dict[str, Any]) -> bool:
        """Resume a waiting workflow. False when the token was already used or expired."""


class NotificationParking(Protocol):
    """Where a message that can never succeed is parked with its reason, for an operator."""

    def park(self, body: str, reason: str, source: str, field: str | None = None) -> None:
        """`field`: the field at fault (dotted path), when the reason concerns one."""


class NotificationDeferrals(Protocol):
    """A notification put back on its queue for a while, instead of waiting inside the function."""

    def defer(self, body: str, seconds: float, attributes: dict[str, str]) -> int:
        """Deliver `body` again in about `seconds` (the queue may cap it: the delay made is
        returned) with `attributes`; the delivery in hand is then done."""


class OrderSearch(Protocol):
    """Amazon's searchOrders (Orders v2026-01-01), for the order sync."""

    def search_orders(
        self,
        seller_id: str,
        *,
        last_updated_after: str,
        marketplace_ids: list[str],
        pagination_token: str | None = None,
        max_results: int = 100,
    ) -> tuple[list[AmazonOrder], str | None]:
        """One page of orders updated at or after `last_updated_after`, and the next page's token.

        Raises `AmazonThrottled` when the shared rate budget has no call left for now.
        """


class BlockedOrders(Protocol):
    """The orders of a store left in `Error`, for the sync to retry (kept by the order store)."""

    def blocked(self, seller_id: str) -> list[tuple[str, int]]:
        """(AmazonOrderId, import attempt that failed) of every order marked blocked."""

    def forget_blocked(self, seller_id: str, amazon_order_id: str, attempt: int) -> None:
        """Drop the mark, unless a later attempt has failed (and marked it again) meanwhile."""


class ShipmentsToConfirm(Protocol):
    """The orders of a store with a Commerce shipment not yet on Amazon (kept by the order store)."""

    def to_confirm(self, seller_id: str) -> list[tuple[str, int]]:
        """(AmazonOrderId, how many shipments the order had when marked) of every marked order."""

    def forget_to_confirm(self, seller_id: str, amazon_order_id: str, shipments: int) -> None:
        """Drop the mark, unless the order has recorded another shipment (and marked it again) meanwhile."""


class StockLeases(Protocol):
    """A short lease per SKU that serializes the channel's moves of a product's out-of-stock
    threshold, with the move in flight written on it (a crashed holder's move is finished by the
    next holder, so each move happens once)."""

    def acquire(self, sku: str, owner: str, now: str, until: str) -> bool:
        """Take the SKU's lease until `until`; False while another owner holds an unexpired one."""

    def pending(self, sku: str) -> str | None:
        """The move in flight left on the SKU's lease (JSON text), if any."""

    def set_pending(self, sku: str, owner: str, move: str | None) -> None:
        """Write (or clear, with None) the move in flight, while holding the lease."""

    def release(self, sku: str, owner: str) -> None:
        """Give the lease up (the move in flight, if any, stays for the next holder)."""


class SyncStateStore(Protocol):
    """The order sync's lease and state per store."""

    def acquire_lease(self, seller_id: str, owner: str, now: str, until: str) -> bool:
        """Take the store's sync lease until `until`; False while another owner holds an unexpired one."""

    def release_lease(self, seller_id: str, owner: str) -> None: ...

    def load(self, seller_id: str) -> SyncState | None: ...

    def save(self, state: SyncState) -> None:
        """Write `state` if its stored version is still `state.version - 1` (else `VersionConflict`)."""

    def claim_continuation(self, seller_id: str, now: str, due: str) -> bool:
        """Note a continuation of the store's sync due at `due`, unless one is pending (due after `now`)."""


class SyncContinuations(Protocol):
    """A store's sync run again later, when its searchOrders quota has a page (a delayed message)."""

    def continue_later(self, seller_id: str, seconds: float) -> int:
        """Run the store's sync in about `seconds` (the delay made is returned)."""


class OrderReads(Protocol):
    """getOrder on a booked token of the seller's shared getOrder budget (never waited for)."""

    def book_read(self, seller_id: str, within: float) -> float:
        """Book a token due within `within` seconds: the seconds until it is due (0.0: now). A
        longer wait is returned with nothing booked. Raises `RateBudgetContended` when too many
        callers wrote the budget at once to book anything."""

    def read_booked(self, seller_id: str, amazon_order_id: str) -> AmazonOrder:
        """getOrder on a booked token now due."""


class ReadPlans(Protocol):
    """What the order reads of a store are planned from: the order sync's progress through a
    backlog, and the newest change of an order still waiting for its details."""

    def note_unread(self, seller_id: str, changed_at: str) -> None:
        """Remember `changed_at` if it is the newest change of an order waiting for its details."""

    def read_plan(self, seller_id: str) -> ReadPlan: ...


if TYPE_CHECKING:
    from .order_reads import ReadPlan
