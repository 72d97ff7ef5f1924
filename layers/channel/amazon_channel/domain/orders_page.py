"""The merchant's orders page: who is signed in, what they may do, and the page's three actions.

- `signed_in_user` reads the user from the JWT claims API Gateway's JWT authorizer verified.
  `viewers` read; `operators` also act.
- `csrf_token` / `check_csrf`: every action is a POST carrying a token bound to the user's sign-in
  session: an HMAC of the verified JWT's session id (`origin_jti`, a random id only the signed-in
  tab holds). A page of another site can neither send the tab's bearer token nor know the token.
- `retry_order`, `cancel_on_amazon`, `redrive`: each is claimed once by its action id (a
  double-click does one thing), written to the order's history with the user's name, and goes
  through the same path as the channel's own: the sync's retry, a merchant cancellation from
  Commerce, a move of the dead-letter queue's messages back to their source queue.
- `health`: per store, the last sync, watermark, quota and orders in Error; the dead-letter queues.

Nothing here imports boto3 or an HTTP library.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import Field

from .clock import now_iso
from .errors import InvalidQuery, OrderNotFound
from .models import ChannelOrder, ChannelStatus, HistoryEntry, MerchantCancellation, Model
from .orders import entry, mutate
from .orders_view import ORDER_ID, OrderPage, OrderQuery, OrderRow, check_order_id, parse_query

if TYPE_CHECKING:
    from .orders import ChannelPorts
    from .ports import OrderStore, WorkflowStarter
    from .sync_state import SyncState

OPERATORS, VIEWERS = "operators", "viewers"


class NotAllowed(Exception):
    """The signed-in user may not do this (a viewer acting, or no group at all)."""


class CsrfRefused(Exception):
    """An action without the token of the user's own page."""


class ActionRefused(Exception):
    """The action does not apply to this order as it stands (the message says why)."""


# -- who is signed in -----------------------------------------------------------------------------
class User(Model):
    name: str
    groups: frozenset[str]
    session: str  # the sign-in session the JWT belongs to (CSRF tokens are bound to it)

    @property
    def can_act(self) -> bool:
        return OPERATORS in self.groups

    @property
    def can_read(self) -> bool:
        return bool({OPERATORS, VIEWERS} & self.groups)


def _groups(value: Any) -> frozenset[str]:
    """API Gateway passes a list claim as text: `[operators viewers]`; a test may pass a list."""
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value)
    text = str(value or "").strip().strip("[]")
    return frozenset(g for g in text.replace(",", " ").split() if g)


def signed_in_user(claims: Mapping[str, Any]) -> User:
    """The user of a verified JWT (Cognito ID or access token)."""
    name = claims.get("cognito:username") or claims.get("username") or claims.get("sub")
    if not name:
        raise NotAllowed("the sign-in names no user")
    session = claims.get("origin_jti") or claims.get("jti") or f"{claims.get('sub')}:{claims.get('iat')}"
    return User(name=str(name), groups=_groups(claims.get("cognito:groups")), session=str(session))


def require_reader(user: User) -> None:
    if not user.can_read:
        raise NotAllowed(f"{user.name} is in neither the viewers nor the operators group")


def require_operator(user: User) -> None:
    if not user.can_act:
        raise NotAllowed(f"{user.name} may view orders but not act on them (operators only)")


CSRF_PURPOSE = b"amazon-channel orders page csrf v1"


def csrf_token(user: User) -> str:
    return hmac.new(user.session.encode(), CSRF_PURPOSE + user.name.encode(), hashlib.sha256).hexdigest()


def check_csrf(user: User, given: str | None) -> None:
    if not given or not hmac.compare_digest(csrf_token(user), given):
        raise CsrfRefused("this form was not served to your session: reload the page and try again")


# -- the Orders page -----------------------------------------------------------------------------
COMMERCE_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,32}$")
PAGE_FILTERS = ("store", "status", "purchased_from", "purchased_to", "text", "cursor")
ERRORS_SHOWN_FIRST = 10


class PageReads(Protocol):
    def list_orders(self, query: OrderQuery) -> OrderPage: ...

    def count(self, seller_id: str, status: ChannelStatus) -> int: ...

    def amazon_details(self, amazon_order_ids: list[str]) -> dict[str, ChannelOrder]: ...


class PageRow(Model):
    row: OrderRow
    seller_id: str
    amazon_status: str | None = None
    buyer_email: str | None = None


class OrdersListing(Model):
    filters: dict[str, str]  # as the merchant typed them, to fill the form again
    stores: list[str]
    store: str
    rows: list[PageRow]
    error_rows: list[PageRow]  # shown first, on the first page of an unfiltered list
    error_count: int
    next_cursor: str | None = None


def page_query(params: Mapping[str, str], stores: list[str]) -> tuple[OrderQuery, dict[str, str]]:
    """The page's filters as an Orders view query. The text is an Amazon order number, a Commerce
    order number, or (with an @) a buyer's email, matched on the rows read."""
    given = {k: v.strip() for k, v in params.items() if k in PAGE_FILTERS and v and v.strip()}
    if not stores:
        raise InvalidQuery("store", "no Amazon store is connected yet")
    store = given.get("store", stores[0])
    if store not in stores:
        raise InvalidQuery("store", "is not a connected store")
    view: dict[str, str] = {
        "seller_id": store,
        **{k: given[k] for k in ("status", "purchased_from", "purchased_to", "cursor") if k in given},
    }
    text = given.get("text", "")
    if ORDER_ID.fullmatch(text):
        view["amazon_order_id"] = text
    query = parse_query(view)
    if text and not ORDER_ID.fullmatch(text) and "@" not in text:
        if not COMMERCE_NUMBER.fullmatch(text):
            raise InvalidQuery("text", "search by Amazon order number, Commerce order number or buyer email")
        query = query.model_copy(update={"commerce_order_number": text})
    return query, {**given, "store": store}


def _page_rows(reads: PageReads, rows: list[OrderRow], seller_id: str) -> list[PageRow]:
    full = reads.amazon_details([r.amazon_order_id for r in rows]) if rows else {}
    out = []
    for r in rows:
        order = full.get(r.amazon_order_id)
        details = order.details if order else None
        email = None if order is None or order.pii_removed_at or details is None else details.buyer_email
        out.append(
            PageRow(
                row=r,
                seller_id=seller_id,
                amazon_status=order.amazon_status.value if order else None,
                buyer_email=email,
            )
        )
    return out


def list_page(reads: PageReads, params: Mapping[str, str], stores: list[str]) -> OrdersListing:
    """One page of the Orders page: the store's orders in Error first (unfiltered first page), then the rest."""
    query, filters = page_query(params, stores)
    page = reads.list_orders(query)
    rows = _page_rows(reads, page.orders, query.seller_id)
    email = filters.get("text", "").casefold() if "@" in filters.get("text", "") else None
    if email:
        rows = [r for r in rows if (r.buyer_email or "").casefold() == email]
    errors: list[PageRow] = []
    unfiltered = set(filters) <= {"store"}
    if unfiltered:
        first = reads.list_orders(
            OrderQuery(seller_id=query.seller_id, status=ChannelStatus.ERROR, limit=ERRORS_SHOWN_FIRST)
        )
        errors = _page_rows(reads, first.orders, query.seller_id)
        shown = {r.row.amazon_order_id for r in errors}
        rows = [r for r in rows if r.row.amazon_order_id not in shown]
    return OrdersListing(
        filters=filters,
        stores=stores,
        store=query.seller_id,
        rows=rows,
        error_rows=errors,
        error_count=reads.count(query.seller_id, ChannelStatus.ERROR),
        next_cursor=page.next_cursor,
    )


# -- the actions ----------------------------------------------------------------------------------
#: The cancellation feed's reason codes a seller may give for an order it cannot ship.
CANCEL_REASONS = {
    "NoInventory": "Out of stock",
    "ShippingAddressUndeliverable": "Shipping address undeliverable",
    "CustomerExchange": "Customer exchange",
    "BuyerCanceled": "Buyer canceled",
    "GeneralAdjustment": "General adjustment",
    "CarrierCreditDecision": "Carrier credit decision",
    "RiskAssessmentInformationNotValid": "Risk assessment information not valid",
    "CarrierCoverageFailure": "Carrier coverage failure",
}


class OrderRetries(Protocol):
    def retry(self, amazon_order_id: str) -> dict[str, Any]:
        """The sync's retry of one blocked order (its result: retried, not-blocked, ...)."""


class DeadLetters(Protocol):
    def names(self) -> list[str]: ...

    def depth(self, name: str) -> int: ...

    def oldest_age_seconds(self, name: str) -> float | None:
        """Age of the oldest message (None: not known here)."""

    def redrive(self, name: str) -> int:
        """Move the queue's messages back to its source queue; how many moved."""


class ActionLog(Protocol):
    def claim(self, action_id: str, what: str, user: str) -> bool:
        """Record the action once. False when this action id was already claimed."""


@dataclass
class PagePorts:
    orders: OrderStore
    retries: OrderRetries
    workflows: WorkflowStarter
    dead_letters: DeadLetters
    actions: ActionLog


class ActionResult(Model):
    done: bool  # False: the same action was already done (a second click)
    message: str


def _claim(ports: PagePorts, action_id: str, what: str, user: User) -> bool:
    if not action_id or len(action_id) > 64 or not action_id.replace("-", "").isalnum():
        raise ActionRefused("the form carries no valid action id: reload the page")
    return ports.actions.claim(action_id, what, user.name)


def _order(ports: PagePorts, amazon_order_id: str) -> ChannelOrder:
    order = ports.orders.get(check_order_id(amazon_order_id))
    if order is None:
        raise OrderNotFound(f"the channel has no order {amazon_order_id}")
    return order


def retry_order(ports: PagePorts, user: User, amazon_order_id: str, action_id: str) -> ActionResult:
    """Retry an order in Error now, through the order sync's own retry."""
    require_operator(user)
    order = _order(ports, amazon_order_id)
    if order.channel_status != ChannelStatus.ERROR:
        raise ActionRefused(f"only orders in Error are retried (this one is {order.channel_status.value})")
    if not _claim(ports, action_id, f"retry {amazon_order_id}", user):
        return ActionResult(done=False, message="This retry was already asked for.")
    ports.orders.append_history(amazon_order_id, [entry("page", f"Retry asked by {user.name} on the orders page")])
    outcome = ports.retries.retry(amazon_order_id)
    result = outcome.get("result", "failed")
    if result not in ("retried", "restarted"):
        return ActionResult(done=True, message=f"Retry not started: {outcome.get('reason') or result}")
    return ActionResult(done=True, message="Retry started: the order is being imported again.")


def _cancellation_refusal(order: ChannelOrder) -> str | None:
    if order.fulfillment == "AFN":
        return "Amazon fulfilled this order; it cannot be canceled by the seller"
    if order.channel_status != ChannelStatus.UNSHIPPED or order.shipments:
        return f"only Unshipped orders are canceled here (this one is {order.channel_status.value})"
    if order.commerce is None:
        return "the order is not in Commerce yet"
    if order.cancellation is not None:
        return f"a cancellation was already asked for ({order.cancellation.outcome})"
    return None


def cancel_on_amazon(
    ports: PagePorts, user: User, amazon_order_id: str, reason_code: str, action_id: str
) -> ActionResult:
    """Ask Amazon to cancel an Unshipped order, as a merchant cancellation from Commerce does."""
    require_operator(user)
    if reason_code not in CANCEL_REASONS:
        raise ActionRefused(f"choose one of Amazon's reasons: {', '.join(CANCEL_REASONS)}")
    refusal = _cancellation_refusal(_order(ports, amazon_order_id))
    if refusal:
        raise ActionRefused(refusal)
    if not _claim(ports, action_id, f"cancel {amazon_order_id}", user):
        return ActionResult(done=False, message="This cancellation was already asked for.")
    reason = f"{CANCEL_REASONS[reason_code]} (canceled by {user.name} on the orders page)"

    def record(o: ChannelOrder) -> list[HistoryEntry] | None:
        if _cancellation_refusal(o):
            return None
        assert o.commerce is not None
        o.cancellation = MerchantCancellation(
            commerce_order_id=o.commerce.order_id, reason=reason, reason_code=reason_code, requested_at=now_iso()
        )
        o.notes = f"Cancellation asked by {user.name}: sending it to Amazon"
        return [entry("cancellation", f"Cancel on Amazon asked by {user.name}: {reason}", reason_code=reason_code)]

    order = mutate(ports.orders, amazon_order_id, record)
    from .mfn_workflow import wake_if_waiting

    wake_if_waiting(order, cast("ChannelPorts", ports), f"cancellation asked by {user.name}")
    return ActionResult(done=True, message="Cancellation sent to Amazon's queue: the order will read Canceled.")


def redrive(ports: PagePorts, user: User, queue: str, action_id: str) -> ActionResult:
    """Move a dead-letter queue's messages back to the queue they came from."""
    require_operator(user)
    if queue not in ports.dead_letters.names():
        raise ActionRefused(f"no dead-letter queue {queue!r}")
    if not _claim(ports, action_id, f"redrive {queue}", user):
        return ActionResult(done=False, message="This redrive was already asked for.")
    moved = ports.dead_letters.redrive(queue)
    return ActionResult(done=True, message=f"{moved} message(s) moved from {queue} back to its queue.")


# -- health ---------------------------------------------------------------------------------------
class StoreHealth(Model):
    seller_id: str
    marketplaces: list[str]
    last_sync_at: str | None = None
    last_result: str | None = None
    watermark: str | None = None
    resuming: bool = False  # a window cut short (quota, time) will be resumed
    orders_in_error: int = 0
    quota: dict[str, str] = Field(default_factory=dict)


class QueueHealth(Model):
    name: str
    depth: int
    oldest_age_seconds: float | None = None


class Health(Model):
    stores: list[StoreHealth]
    dead_letter_queues: list[QueueHealth]


class HealthReads(Protocol):
    def stores(self) -> list[tuple[str, list[str]]]:
        """(SellerId, marketplace ids) of each connected store."""

    def sync_state(self, seller_id: str) -> SyncState | None: ...

    def count(self, seller_id: str, status: ChannelStatus) -> int: ...

    def quota(self, seller_id: str) -> dict[str, str]:
        """Per SP-API operation, the rate budget's calls left, as text."""


def health(reads: HealthReads, dead_letters: DeadLetters) -> Health:
    stores = []
    for seller_id, marketplaces in reads.stores():
        state = reads.sync_state(seller_id)
        stores.append(
            StoreHealth(
                seller_id=seller_id,
                marketplaces=marketplaces,
                last_sync_at=state.last_run_at if state else None,
                last_result=state.last_result if state else None,
                watermark=state.watermark if state else None,
                resuming=bool(state and state.cursor),
                orders_in_error=reads.count(seller_id, ChannelStatus.ERROR),
                quota=reads.quota(seller_id),
            )
        )
    queues = [
        QueueHealth(name=n, depth=dead_letters.depth(n), oldest_age_seconds=dead_letters.oldest_age_seconds(n))
        for n in dead_letters.names()
    ]
    return Health(stores=stores, dead_letter_queues=queues)
