"""The merchant's orders page (HTTP API): HTML rendered with Jinja2, enhanced with htmx.

Public routes (no authorizer; no order data):
GET  /page/{proxy+}                     the page's shell for any page path, its static files,
                                        the sign-in redirect and the sign-in callback
Signed-in routes (the API's Cognito JWT authorizer; the browser sends the ID token):
GET  /app/orders                        Orders: filters, cursor pages, orders in Error first
GET  /app/orders/{amazonOrderId}        Order: timeline, packages and tracking, Commerce links
GET  /app/health                        Health: per store sync, quota, Error count; dead-letter queues
POST /app/orders/{amazonOrderId}/retry  Retry an order in Error (operators)
POST /app/orders/{amazonOrderId}/cancel Cancel an Unshipped order on Amazon (operators)
POST /app/health/redrive                Redrive a dead-letter queue (operators)

Every POST carries the CSRF token of the user's session. Logs name routes, users and order ids,
never a buyer's name or email.
"""

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from amazon_channel import runtime
from amazon_channel.domain import orders_page, orders_view
from amazon_channel.domain.errors import InvalidQuery, OrderNotFound
from amazon_channel.domain.models import ChannelStatus
from amazon_channel.domain.orders_page import ActionRefused, CsrfRefused, NotAllowed
from amazon_channel.settings import IdempotencySettings, StoresSettings, WorkflowStartSettings

if TYPE_CHECKING:  # mypy checks the handlers as functions.<name>.*; Lambda imports the sibling module
    from functions.orders_page import page_render as pages
else:
    import page_render as pages

logger, tracer = runtime.logger, runtime.tracer
app = APIGatewayHttpResolver()


class Settings(StoresSettings, IdempotencySettings, WorkflowStartSettings):
    """The page: the orders and stores it shows, its actions' one-time ids, the workflow it wakes."""

    order_sync_function: str = Field(alias="ORDER_SYNC_FUNCTION")  # Retry runs the sync's own retry
    sign_in_url: str = Field(alias="SIGN_IN_URL")  # the hosted UI's authorize URL
    commerce_admin_url: str = Field(alias="COMMERCE_ADMIN_URL")
    # JSON: name -> [dead-letter queue URL, the queue its messages go back to]
    page_dead_letter_queues: str = Field(alias="PAGE_DEAD_LETTER_QUEUES")


settings = Settings.from_environment()


# -- public: the shell, static files, sign-in --------------------------------------------------------
@app.get("/page/static/<name>")
def static(name: str) -> Response[str]:
    return pages.static(name)


@app.get("/page/sign-in")
def sign_in() -> Response[str]:
    return pages.redirect(pages.sign_in_url(app.current_event.query_string_parameters or {}))


@app.get("/page/callback")
def callback() -> Response[str]:
    return pages.html(pages.render("callback.html"))


@app.get("/page/signed-out")
def signed_out() -> Response[str]:
    return pages.html(pages.render("signed_out.html"))


@app.get("/page/orders")
@app.get("/page/health")
@app.get("/page/orders/<_amazon_order_id>")
def shell(_amazon_order_id: str = "") -> Response[str]:
    event = app.current_event
    target = "/app" + event.raw_path.removeprefix("/page")
    if event.raw_query_string:
        target += "?" + event.raw_query_string
    return pages.html(pages.render("shell.html", content_url=target))


# -- signed in -------------------------------------------------------------------------------------
def _user() -> orders_page.User:
    user = orders_page.signed_in_user(app.current_event.request_context.authorizer.jwt_claim or {})
    orders_page.require_reader(user)
    return user


def _form() -> dict[str, str]:
    return dict(parse_qsl(app.current_event.decoded_body or "", keep_blank_values=True))


def _acting(form: dict[str, str]) -> orders_page.User:
    user = _user()
    orders_page.require_operator(user)
    orders_page.check_csrf(user, form.get("csrf"))
    return user


@app.get("/app/orders")
@tracer.capture_method(capture_response=False)
def list_orders() -> Response[str]:
    user = _user()
    params = app.current_event.query_string_parameters or {}
    _ports, queries, _health, stores = runtime.orders_page(settings)
    listing = orders_page.list_page(queries, params, [s.seller_id for s in stores.connected()])
    logger.info("Orders page", extra={"user": user.name, "filters": sorted(params), "rows": len(listing.rows)})
    push = "/page/orders" + ("?" + urlencode(listing.filters) if set(listing.filters) - {"store"} else "")
    body = pages.render(
        "orders.html",
        user=user,
        listing=listing,
        statuses=[s.value for s in ChannelStatus],
        next_query=urlencode({**listing.filters, "cursor": listing.next_cursor or ""}),
    )
    return pages.html(body, push_url=push)


def _order_page(
    user: orders_page.User, amazon_order_id: str, flash: str | None = None, status: int = 200
) -> Response[str]:
    ports, _queries, _health, _stores = runtime.orders_page(settings)
    detail = orders_view.show_order(ports.orders, amazon_order_id)
    body = pages.render(
        "order.html",
        user=user,
        detail=detail,
        flash=flash,
        csrf=orders_page.csrf_token(user),
        reasons=orders_page.CANCEL_REASONS,
        commerce_admin=pages.commerce_admin_url(),
    )
    return pages.html(body, status=status, push_url=f"/page/orders/{amazon_order_id}")


@app.get("/app/orders/<amazon_order_id>")
@tracer.capture_method(capture_response=False)
def show_order(amazon_order_id: str) -> Response[str]:
    user = _user()
    logger.info("Order page", extra={"user": user.name, "amazon_order_id": unquote(amazon_order_id)})
    return _order_page(user, unquote(amazon_order_id))


@app.post("/app/orders/<amazon_order_id>/retry")
def retry(amazon_order_id: str) -> Response[str]:
    form = _form()
    user = _acting(form)
    ports = runtime.orders_page(settings)[0]
    result = orders_page.retry_order(ports, user, unquote(amazon_order_id), form.get("action_id", ""))
    logger.info("Retry asked", extra={"user": user.name, "amazon_order_id": amazon_order_id, "done": result.done})
    return _order_page(user, unquote(amazon_order_id), flash=result.message)


@app.post("/app/orders/<amazon_order_id>/cancel")
def cancel(amazon_order_id: str) -> Response[str]:
    form = _form()
    user = _acting(form)
    ports = runtime.orders_page(settings)[0]
    oid = unquote(amazon_order_id)
    result = orders_page.cancel_on_amazon(ports, user, oid, form.get("reason", ""), form.get("action_id", ""))
    logger.info("Cancel on Amazon asked", extra={"user": user.name, "amazon_order_id": oid, "done": result.done})
    return _order_page(user, oid, flash=result.message)


def _health_page(user: orders_page.User, flash: str | None = None) -> Response[str]:
    ports, _queries, health_reads, _stores = runtime.orders_page(settings)
    report = orders_page.health(health_reads, ports.dead_letters)
    body = pages.render("health.html", user=user, health=report, flash=flash, csrf=orders_page.csrf_token(user))
    return pages.html(body, push_url="/page/health")


@app.get("/app/health")
@tracer.capture_method(capture_response=False)
def health() -> Response[str]:
    user = _user()
    logger.info("Health page", extra={"user": user.name})
    return _health_page(user)


@app.post("/app/health/redrive")
def redrive() -> Response[str]:
    form = _form()
    user = _acting(form)
    result = orders_page.redrive(
        runtime.orders_page(settings)[0], user, form.get("queue", ""), form.get("action_id", "")
    )
    logger.info("Redrive asked", extra={"user": user.name, "queue": form.get("queue"), "done": result.done})
    return _health_page(user, flash=result.message)


# -- refusals --------------------------------------------------------------------------------------
@app.exception_handler(NotAllowed)  # type: ignore[untyped-decorator]  # untyped in Powertools
def not_allowed(e: NotAllowed) -> Response[str]:
    logger.info("Refused", extra={"reason": "not allowed"})
    return pages.problem(403, "Not allowed", str(e))


@app.exception_handler(CsrfRefused)  # type: ignore[untyped-decorator]  # untyped in Powertools
def csrf_refused(e: CsrfRefused) -> Response[str]:
    logger.warning("Refused", extra={"reason": "csrf"})
    return pages.problem(403, "Refused", str(e))


@app.exception_handler(ActionRefused)  # type: ignore[untyped-decorator]  # untyped in Powertools
def action_refused(e: ActionRefused) -> Response[str]:
    return pages.problem(409, "Not done", str(e))


@app.exception_handler(InvalidQuery)  # type: ignore[untyped-decorator]  # untyped in Powertools
def bad_request(e: InvalidQuery) -> Response[str]:
    return pages.problem(400, "Check the filters", str(e))


@app.exception_handler(OrderNotFound)  # type: ignore[untyped-decorator]  # untyped in Powertools
def not_found(e: OrderNotFound) -> Response[str]:
    return pages.problem(404, "No such order", str(e))


@app.not_found
def no_route(_e: Exception) -> Response[str]:
    return pages.problem(404, "Not found", "There is no such page.")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
