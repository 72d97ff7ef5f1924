"""Orders view HTTP API (API Gateway HTTP API, IAM auth): the seed's Orders tab.

GET /orders                      one page of a store's orders (filters, cursor), newest first
GET /orders/{amazonOrderId}      one order: items, ship-to, packages and tracking, history

Routes are thin: the query string goes to the domain, which checks it (400 with the parameter's
name), and the rows come from DynamoDB index queries. The contract is api/orders-view.openapi.yaml.
Logs carry which filters were used, never their values (a buyer's name is personal data).
"""

from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from amazon_channel import runtime
from amazon_channel.domain import orders_view
from amazon_channel.domain.errors import InvalidQuery, OrderNotFound
from amazon_channel.settings import Settings as ChannelSettings

logger, tracer = runtime.logger, runtime.tracer


class Settings(ChannelSettings):
    """The orders table only (its indexes)."""


settings = Settings.from_environment()
app = APIGatewayHttpResolver()


@app.get("/orders")
@tracer.capture_method(capture_response=False)  # rows hold buyer names: never in traces
def list_orders() -> dict[str, Any]:
    params = app.current_event.query_string_parameters or {}
    page = orders_view.list_orders(runtime.orders_view(settings).queries, params)
    logger.info(
        "Orders listed",
        extra={"filters": sorted(params), "rows": len(page.orders), "more": page.next_cursor is not None},
    )
    return page.model_dump(mode="json")


@app.get("/orders/<amazon_order_id>")
@tracer.capture_method(capture_response=False)  # rows hold buyer names: never in traces
def show_order(amazon_order_id: str) -> dict[str, Any]:
    detail = orders_view.show_order(runtime.orders_view(settings).orders, unquote(amazon_order_id))
    logger.info("Order shown", extra={"amazon_order_id": detail.order.amazon_order_id})
    return detail.model_dump(mode="json")


def _error(status: int, message: str, **fields: Any) -> Response[dict[str, Any]]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body={"message": message, **fields}
    )


@app.exception_handler(InvalidQuery)  # type: ignore[untyped-decorator]  # untyped in Powertools
def bad_request(e: InvalidQuery) -> Response[dict[str, Any]]:
    logger.info("Bad request", extra={"parameter": e.parameter})
    return _error(400, str(e), parameter=e.parameter)


@app.exception_handler(OrderNotFound)  # type: ignore[untyped-decorator]  # untyped in Powertools
def not_found(e: OrderNotFound) -> Response[dict[str, Any]]:
    return _error(404, str(e))


@app.not_found
def no_route(_e: Exception) -> Response[dict[str, Any]]:
    return _error(404, "Not Found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
