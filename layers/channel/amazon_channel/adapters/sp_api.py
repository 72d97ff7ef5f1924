"""The channel's Selling Partner API client: Orders v2026-01-01 (searchOrders, getOrder), v0
confirmShipment and, for seller cancellations, the Feeds API v2021-06-30 (createFeedDocument,
createFeed, getFeed, getFeedDocument), signed in with Login with Amazon (LWA).

Why a thin client rather than python-amazon-sp-api: that library does cover Orders v2026-01-01
(its `Orders(version='2026-01-01')` client, added in 2026), but it depends on `requests` (absent from
the Lambda python3.13 runtime, where only boto3/botocore/urllib3 sit beside our layer), it is a large
package covering every SP-API section, its endpoints come from its own marketplace table (pointing it
at the local simulator means working around that), and its retry/throttling logic is per process,
while ours must share a rate budget across concurrently running functions (`rate_budget.py`). We use
a handful of operations (plus the Feeds API for seller cancellations); a typed client of a few
hundred lines on `urllib3` keeps the layer small and the behaviour (retries, 403 refresh, rate
budget, no PII in logs) explicit and tested against the simulator.

No PII is logged: only operation, order id, HTTP status, Amazon request id and timings.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from ..domain import clock
from ..domain.errors import AmazonRejected, AmazonThrottled, AmazonUnavailable
from ..domain.models import AmazonOrder, CancellationFeedResult, OrderCancellation, PackageConfirmation
from . import cancellation_feed
from .rate_budget import RateBudget
from .sp_api_order import ADDRESS_FIELDS, to_amazon_order  # Amazon's Order, parsed once (its own module)

__all__ = ["ADDRESS_FIELDS", "SellingPartnerClient", "to_amazon_order"]

log = logging.getLogger(__name__)

# operationId -> (method, path template, documented rate per second, burst)
OPERATIONS: dict[str, tuple[str, str, float, int]] = {
    "searchOrders": ("GET", "/orders/2026-01-01/orders", 0.0056, 20),
    "getOrder": ("GET", "/orders/2026-01-01/orders/{orderId}", 0.5, 30),
    "confirmShipment": ("POST", "/orders/v0/orders/{orderId}/shipmentConfirmation", 2.0, 10),
    # Feeds API v2021-06-30: the seller's order cancellation (adapters/cancellation_feed.py)
    "createFeedDocument": ("POST", "/feeds/2021-06-30/documents", 0.5, 15),
    "createFeed": ("POST", "/feeds/2021-06-30/feeds", 0.0083, 15),
    "getFeed": ("GET", "/feeds/2021-06-30/feeds/{feedId}", 2.0, 15),
    "getFeedDocument": ("GET", "/feeds/2021-06-30/documents/{feedDocumentId}", 0.0222, 10),
}
# CANCELLATION: buyers' cancellation requests (cancellationRequest.requester BUYER), seen by order sync too
INCLUDED_DATA = "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES,CANCELLATION"

TOKEN_MARGIN = 60.0  # refresh the access token this many seconds before it expires

# LWA access tokens, shared by every client in the process (a warm Lambda sandbox reuses them):
# (client_id, seller_id) -> (access_token, expires_at on the channel clock's monotonic()).
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


def clear_token_cache() -> None:
    with _TOKENS_LOCK:
        _TOKENS.clear()


class _Reply:
    __slots__ = ("data", "headers", "status")

    def __init__(self, status: int, headers: Any, data: bytes):
        self.status, self.headers, self.data = status, headers, data

    def json(self) -> Any:
        return json.loads(self.data) if self.data else None

    @property
    def request_id(self) -> str | None:
        rid = self.headers.get("x-amzn-RequestId")
        return str(rid) if rid is not None else None


class SellingPartnerClient:
    """Implements the `Marketplace` port (plus `search_orders`). Thread-safe."""

    def __init__(
        self,
        endpoint: str,
        lwa_token_url: str,
        credentials: Callable[[], dict[str, Any]],
        *,
        rate_budget: RateBudget | None = None,
        http: urllib3.PoolManager | None = None,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = clock.sleep,
        max_wait: float = 60.0,
        max_budget_wait: float | None = None,
        base_delay: float = 0.5,
        max_delay: float = 20.0,
        timeout: urllib3.Timeout | None = None,
        traced: Callable[[str], AbstractContextManager[Any]] = lambda _name: nullcontext(),
    ):
        self.endpoint = endpoint.rstrip("/")
        self.lwa_token_url = lwa_token_url
        self.credentials = credentials
        self.rate_budget = rate_budget
        self.http = http or urllib3.PoolManager(num_pools=4, maxsize=4)
        self.max_attempts = max(1, max_attempts)
        self.sleep = sleep
        self.max_wait = max_wait  # the longest single wait (rate budget or Retry) before giving up
        # The longest wait for the shared rate budget: 0 in Lambda, where the work is deferred instead
        self.max_budget_wait = max_wait if max_budget_wait is None else max_budget_wait
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout or urllib3.Timeout(connect=3.05, read=20.0)
        self.traced = traced

    # ------------------------------------------------------------------ Marketplace port
    def get_order(self, seller_id: str, amazon_order_id: str) -> AmazonOrder:
        reply = self._call("getOrder", seller_id, {"orderId": amazon_order_id}, query={"includedData": INCLUDED_DATA})
        return to_amazon_order(reply.json()["order"], reply.request_id)

    def book_read(self, seller_id: str, within: float) -> float:
        """`OrderReads`: book a getOrder token due within `within` seconds; the seconds until it
        is due (0.0: now), or, when none is free that soon, the wait (nothing booked)."""
        _, _, rate, burst = OPERATIONS["getOrder"]
        if self.rate_budget is None:
            return 0.0
        return self.rate_budget.book(f"{seller_id}#getOrder", rate, burst, within)

    def read_booked(self, seller_id: str, amazon_order_id: str) -> AmazonOrder:
        """`OrderReads`: getOrder on a token booked earlier (`book_read`), now due."""
        reply = self._call(
            "getOrder",
            seller_id,
            {"orderId": amazon_order_id},
            query={"includedData": INCLUDED_DATA},
            budget_taken=True,
        )
        return to_amazon_order(reply.json()["order"], reply.request_id)

    def search_orders(
        self,
        seller_id: str,
        *,
        last_updated_after: str,
        marketplace_ids: list[str],
        pagination_token: str | None = None,
        max_results: int = 100,
    ) -> tuple[list[AmazonOrder], str | None]:
        query: dict[str, Any] = {
            "lastUpdatedAfter": last_updated_after,
            "marketplaceIds": ",".join(marketplace_ids),
            "maxResultsPerPage": str(max_results),
            "includedData": INCLUDED_DATA,
        }
        if pagination_token:
            query["paginationToken"] = pagination_token
        reply = self._call("searchOrders", seller_id, {}, query=query)
        body = reply.json()
        orders = [to_amazon_order(o, reply.request_id) for o in body.get("orders", [])]
        return orders, (body.get("pagination") or {}).get("nextToken")

    def confirm_shipment(self, seller_id: str, confirmation: PackageConfirmation) -> str:
        body: dict[str, Any] = {
            "marketplaceId": confirmation.marketplace_id,
            "packageDetail": {
                "packageReferenceId": confirmation.package_reference_id,
                "carrierCode": confirmation.carrier_code,
                "trackingNumber": confirmation.tracking_number,
                "shipDate": confirmation.ship_date,
                "orderItems": [{"orderItemId": oid, "quantity": qty} for oid, qty in confirmation.items],
            },
        }
        if confirmation.carrier_name:
            body["packageDetail"]["carrierName"] = confirmation.carrier_name
        reply = self._call("confirmShipment", seller_id, {"orderId": confirmation.amazon_order_id}, body=body)
        return reply.request_id or ""

    def request_cancellation(self, seller_id: str, cancellation: OrderCancellation) -> str:
        """Cancel a whole order: createFeedDocument, upload the file to the presigned URL,
        createFeed (POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA). Returns the feed id."""
        doc = self._call(
            "createFeedDocument", seller_id, {}, body={"contentType": cancellation_feed.CONTENT_TYPE}
        ).json()
        self._transfer("PUT", doc["url"], cancellation_feed.feed_file(cancellation), cancellation_feed.CONTENT_TYPE)
        feed = self._call(
            "createFeed",
            seller_id,
            {},
            body={
                "feedType": cancellation_feed.FEED_TYPE,
                "marketplaceIds": [cancellation.marketplace_id],
                "inputFeedDocumentId": doc["feedDocumentId"],
            },
        )
        feed_id: str = feed.json()["feedId"]
        log.info("sp-api cancellation feed %s created for order=%s", feed_id, cancellation.amazon_order_id)
        return feed_id

    def cancellation_result(self, seller_id: str, feed_id: str) -> CancellationFeedResult:
        """getFeed; once DONE, the processing report (getFeedDocument, then its presigned URL)."""
        feed = self._call("getFeed", seller_id, {"feedId": feed_id}).json()
        status = feed["processingStatus"]
        if status in ("IN_QUEUE", "IN_PROGRESS"):
            return CancellationFeedResult(feed_id=feed_id, status=status)
        if status == "CANCELLED":
            return CancellationFeedResult(
                feed_id=feed_id,
                status=status,
                accepted=False,
                message=f"feed {feed_id} was cancelled before Amazon processed it",
            )
        report = None
        if feed.get("resultFeedDocumentId"):
            doc = self._call("getFeedDocument", seller_id, {"feedDocumentId": feed["resultFeedDocumentId"]}).json()
            data = self._transfer("GET", doc["url"])
            if doc.get("compressionAlgorithm") == "GZIP":
                import gzip

                data = gzip.decompress(data)
            report = cancellation_feed.read_report(data.decode("utf-8", "replace"))
        if status == "FATAL":
            why = (
                "; ".join(list(dict.fromkeys(report.errors))[:3])
                if report and report.errors
                else "no processing report"
            )
            return CancellationFeedResult(
                feed_id=feed_id,
                status=status,
                accepted=False,
                message=f"Amazon could not process feed {feed_id} ({why})",
            )
        if report is None or not report.clean:
            why = (
                "; ".join(list(dict.fromkeys(report.errors))[:3])
                if report and report.errors
                else "no processing report"
            )
            return CancellationFeedResult(feed_id=feed_id, status=status, accepted=False, message=why)
        return CancellationFeedResult(feed_id=feed_id, status=status, accepted=True)

    def _transfer(self, method: str, url: str, body: bytes | None = None, content_type: str | None = None) -> bytes:
        """A feed document upload or download on its presigned URL (Amazon S3): no SP-API token is
        sent there, and only the operation is logged, never the URL (it carries a signature)."""
        headers = {"content-type": content_type} if content_type else {}
        for attempt in range(1, self.max_attempts + 1):
            try:
                r = self.http.request(
                    method, url, body=body, headers=headers, retries=False, redirect=False, timeout=self.timeout
                )
            except urllib3.exceptions.HTTPError as e:
                if attempt >= self.max_attempts:
                    raise AmazonUnavailable(f"feed document {method}: unreachable ({type(e).__name__})") from e
                self._pause("feed-document", self._backoff(attempt))
                continue
            log.info("sp-api feed document %s status=%s", method, r.status)
            if 200 <= r.status < 300:
                return r.data
            if r.status >= 500 and attempt < self.max_attempts:
                self._pause("feed-document", self._backoff(attempt))
                continue
            error = AmazonUnavailable if r.status >= 500 else AmazonRejected
            raise error(f"feed document {method} answered {r.status}")
        raise AmazonUnavailable(f"feed document {method}: no answer")  # pragma: no cover

    # ------------------------------------------------------------------ transport
    def _call(
        self,
        operation: str,
        seller_id: str,
        path_params: dict[str, str],
        *,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        budget_taken: bool = False,
    ) -> _Reply:
        method, template, rate, burst = OPERATIONS[operation]
        path = template.format(**{k: quote(v, safe="") for k, v in path_params.items()})
        url = self.endpoint + path + ("?" + urlencode(query, safe=",") if query else "")
        data = json.dumps(body).encode() if body is not None else None
        order_id = path_params.get("orderId")
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if not budget_taken:
                self._take_budget(seller_id, operation, rate, burst)
            budget_taken = False  # a booked token serves the first request only
            try:
                reply = self._send(operation, method, url, seller_id, data)
            except urllib3.exceptions.HTTPError as e:
                log.warning("sp-api %s order=%s connection error: %s", operation, order_id, type(e).__name__)
                if attempt >= self.max_attempts:
                    raise AmazonUnavailable(f"{operation}: SP-API unreachable ({type(e).__name__})") from e
                self._pause(operation, self._backoff(attempt))
                continue
            log.info("sp-api %s order=%s status=%s request_id=%s", operation, order_id, reply.status, reply.request_id)
            if 200 <= reply.status < 300:
                return reply
            if reply.status == 403 and not refreshed:
                # An expired or revoked access token: exchange the refresh token again, once.
                refreshed = True
                attempt -= 1
                self._forget_token(seller_id)
                continue
            self._pause(operation, self._retry_wait(operation, reply, attempt))

    def _send(self, operation: str, method: str, url: str, seller_id: str, data: bytes | None) -> _Reply:
        """One request with the seller's access token."""
        headers = {
            "x-amz-access-token": self._access_token(seller_id),
            "user-agent": "amazon-channel/1.0 (Language=Python)",
            "accept": "application/json",
        }
        if data is not None:
            headers["content-type"] = "application/json"
        with self.traced(f"sp-api {operation}"):
            r = self.http.request(
                method, url, body=data, headers=headers, retries=False, redirect=False, timeout=self.timeout
            )
        return _Reply(r.status, r.headers, r.data)

    def _retry_wait(self, operation: str, reply: _Reply, attempt: int) -> float:
        """How long to wait before trying a throttled or failed call again; raises when it is not worth it."""
        if reply.status != 429 and reply.status < 500:
            raise self._error(operation, reply)
        if attempt >= self.max_attempts:
            raise self._error(operation, reply)
        wait = self._backoff(attempt)
        limit = _rate_limit(reply)
        if reply.status == 429 and limit:
            wait = max(wait, 1.0 / limit)
        if wait > self.max_wait:
            raise self._error(operation, reply)
        return wait

    def _error(self, operation: str, reply: _Reply) -> Exception:
        code, message = _first_error(reply)
        text = f"{operation} answered {reply.status} {code}: {message}"
        if reply.status == 429:
            err: Exception = AmazonThrottled(text)
        elif reply.status >= 500:
            err = AmazonUnavailable(text)
        else:
            err = AmazonRejected(text)
        err.status = reply.status  # type: ignore[attr-defined]
        err.code = code  # type: ignore[attr-defined]
        err.amazon_message = message  # type: ignore[attr-defined]
        err.request_id = reply.request_id  # type: ignore[attr-defined]
        return err

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret

    def _pause(self, operation: str, seconds: float) -> None:
        if seconds > 0:
            log.info("sp-api %s waiting %.2fs before retrying", operation, seconds)
            self.sleep(seconds)

    def _take_budget(self, seller_id: str, operation: str, rate: float, burst: int) -> None:
        if self.rate_budget is None:
            return
        waited = 0.0
        while (wait := self.rate_budget.acquire(f"{seller_id}#{operation}", rate, burst)) > 0:
            if waited + wait > self.max_budget_wait:
                err = AmazonThrottled(f"{operation}: the shared rate budget needs {wait:.1f}s more")
                err.retry_after = wait  # type: ignore[attr-defined]
                raise err
            self.sleep(wait)
            waited += wait

    # ------------------------------------------------------------------ Login with Amazon
    def _cache_key(self, seller_id: str, creds: dict[str, Any] | None = None) -> tuple[str, str]:
        creds = creds if creds is not None else self.credentials()
        return (str(creds.get("client_id")), seller_id)

    def _forget_token(self, seller_id: str) -> None:
        key = self._cache_key(seller_id)
        with _TOKENS_LOCK:
            _TOKENS.pop(key, None)

    def _access_token(self, seller_id: str) -> str:
        creds = self.credentials()
        key = self._cache_key(seller_id, creds)
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
            if cached and cached[1] > clock.monotonic():
                return cached[0]
        refresh_token = (creds.get("refresh_tokens") or {}).get(seller_id)
        if not refresh_token:
            raise AmazonRejected(f"no SP-API refresh token for seller {seller_id}")
        form = urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": creds.get("client_id", ""),
                "client_secret": creds.get("client_secret", ""),
            }
        ).encode()
        payload = self._exchange(form)
        token: str = payload["access_token"]
        expires_at = clock.monotonic() + float(payload.get("expires_in", 3600)) - TOKEN_MARGIN
        with _TOKENS_LOCK:
            _TOKENS[key] = (token, expires_at)
        log.info("lwa token exchanged for seller %s", seller_id)
        return token

    def _exchange(self, form: bytes) -> dict[str, Any]:
        """Login with Amazon's answer to a refresh token (retried when LWA is down or throttles)."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                r = self.http.request(
                    "POST",
                    self.lwa_token_url,
                    body=form,
                    headers={"content-type": "application/x-www-form-urlencoded;charset=UTF-8"},
                    retries=False,
                    redirect=False,
                    timeout=self.timeout,
                )
            except urllib3.exceptions.HTTPError as e:
                if attempt >= self.max_attempts:
                    raise AmazonUnavailable(f"LWA unreachable ({type(e).__name__})") from e
                self._pause("lwa", self._backoff(attempt))
                continue
            if r.status == 200:
                payload: dict[str, Any] = json.loads(r.data)
                return payload
            if r.status == 429 or r.status >= 500:
                if attempt >= self.max_attempts:
                    raise AmazonUnavailable(f"LWA answered {r.status}")
                self._pause("lwa", self._backoff(attempt))
                continue
            try:
                err = json.loads(r.data)
            except ValueError:
                err = {}
            raise AmazonRejected(
                f"LWA answered {r.status} {err.get('error', 'error')}: {err.get('error_description', '')}"
            )
        raise AmazonUnavailable("LWA: no answer")  # pragma: no cover


# ---------------------------------------------------------------------- mapping
def _rate_limit(reply: _Reply) -> float | None:
    try:
        value = float(reply.headers.get("x-amzn-RateLimit-Limit") or 0)
    except ValueError:
        return None
    return value if value > 0 else None


def _first_error(reply: _Reply) -> tuple[str, str]:
    try:
        body = reply.json()
        err = (body.get("errors") or [{}])[0]
        return str(err.get("code", "Unknown")), str(err.get("message", ""))
    except (ValueError, AttributeError, IndexError, TypeError):
        return "Unknown", reply.data[:200].decode("utf-8", "replace")
