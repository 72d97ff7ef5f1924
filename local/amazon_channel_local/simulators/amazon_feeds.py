"""The simulated Amazon's Feeds API (v2021-06-30), for the one feed the channel sends: the order
cancellation feed `POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA`.

The flow is Amazon's: `createFeedDocument` answers a document id and a presigned upload URL
(served here, under `/feed-documents/`, expiring after 5 minutes, no SP-API token); the seller
PUTs the tab-separated file there with the content type it declared; `createFeed` queues the feed;
Amazon processes it (`IN_QUEUE` -> `IN_PROGRESS` -> `DONE`), cancels the orders it names, sends
their `ORDER_CHANGE` (Canceled), and keeps a processing report as the feed's result document
(`getFeed` -> `resultFeedDocumentId` -> `getFeedDocument` -> presigned download URL).

Bodies are checked against the official Feeds model by the simulator's HTTP core. The file is
checked against the feed's documented columns (Amazon's "Order Feed Type Values" page:
order-id, amazon-order-item-code, cancellation-reason-code) and the order acknowledgement
cancellation reasons.

By default a feed is processed as soon as it is created (before `createFeed` answers), so a
scenario settles deterministically; `hold()` keeps new feeds `IN_QUEUE` until `process()`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from .amazon import Response, SimulatedAmazon

FEED_OPERATIONS = ("createFeedDocument", "createFeed", "getFeed", "getFeedDocument")
CANCELLATION_FEED = "POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA"
CANCELLATION_COLUMNS = ("order-id", "amazon-order-item-code", "cancellation-reason-code")
CANCEL_REASONS = frozenset(
    {
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
    }
)
URL_LIFETIME = 300  # "This URL expires after 5 minutes."
DOCUMENT_PATH = "/feed-documents/"


class SimulatedFeeds:
    """Feed documents, feeds and their processing, for one SimulatedAmazon (its lock guards all)."""

    def __init__(self, amazon: SimulatedAmazon):
        self.amazon = amazon
        self._key = secrets.token_bytes(32)
        self._documents: dict[str, dict[str, Any]] = {}
        self._feeds: dict[str, dict[str, Any]] = {}
        self._seq = 50_000_000_000
        self._hold = False
        self.uploads = 0

    # ------------------------------------------------------------------ controls and inspection
    def hold(self, enabled: bool = True) -> None:
        """While held, new feeds stay IN_QUEUE until `process()`."""
        with self.amazon._lock:
            self._hold = enabled

    def process(self) -> None:
        """Process every queued feed now (IN_QUEUE -> DONE), sending the ORDER_CHANGEs it causes."""
        with self.amazon._lock:
            queued = [f for f in self._feeds.values() if f["processingStatus"] in ("IN_QUEUE", "IN_PROGRESS")]
            notes = [n for f in queued for n in self._process(f)]
        for note in notes:
            self.amazon._deliver(note)

    def feeds(self) -> list[dict]:
        """Every feed received, with its input file and report, for tests."""
        with self.amazon._lock:
            out = []
            for f in self._feeds.values():
                doc = self._documents.get(f["inputFeedDocumentId"], {})
                report = self._documents.get(f.get("resultFeedDocumentId") or "", {})
                out.append(
                    {
                        **{k: v for k, v in f.items() if not k.startswith("_")},
                        "content": (doc.get("content") or b"").decode("utf-8", "replace"),
                        "report": (report.get("content") or b"").decode("utf-8", "replace"),
                    }
                )
            return out

    # ------------------------------------------------------------------ SP-API operations
    def call(self, op: str, path_id: str | None, payload: Any, seller: str) -> Response:
        from .amazon import ApiError, Response

        with self.amazon._lock:
            if op == "createFeedDocument":
                doc_id = self._new_id("amzn1.tortuga.4.na.")
                self._documents[doc_id] = {
                    "seller": seller,
                    "contentType": payload["contentType"],
                    "content": None,
                    "kind": "input",
                }
                return Response(201, {"feedDocumentId": doc_id, "url": self._url(doc_id)})
            if op == "getFeedDocument":
                doc = self._documents.get(path_id or "")
                if doc is None or doc["seller"] != seller:
                    raise ApiError(404, f"Feed document {path_id} not found.")
                return Response(200, {"feedDocumentId": path_id, "url": self._url(path_id or "")})
            if op == "getFeed":
                feed = self._feeds.get(path_id or "")
                if feed is None or feed["_seller"] != seller:
                    raise ApiError(404, f"Feed {path_id} not found.")
                return Response(200, {k: v for k, v in feed.items() if not k.startswith("_")})
            # createFeed
            if payload["feedType"] != CANCELLATION_FEED:
                raise ApiError(400, f"Feed type {payload['feedType']} is not supported by this simulator.")
            doc = self._documents.get(payload["inputFeedDocumentId"])
            if doc is None or doc["seller"] != seller or doc["kind"] != "input":
                raise ApiError(400, f"Invalid inputFeedDocumentId {payload['inputFeedDocumentId']}.")
            feed_id = str(self._next())
            self._feeds[feed_id] = {
                "feedId": feed_id,
                "feedType": payload["feedType"],
                "marketplaceIds": list(payload["marketplaceIds"]),
                "createdTime": self._now(),
                "processingStatus": "IN_QUEUE",
                "inputFeedDocumentId": payload["inputFeedDocumentId"],
                "_seller": seller,
            }
            notes = [] if self._hold else self._process(self._feeds[feed_id])
        for note in notes:
            self.amazon._deliver(note)
        return Response(202, {"feedId": feed_id})

    # ------------------------------------------------------------------ presigned URLs (the "S3" side)
    def serve_document(self, method: str, path: str, query: dict, hdrs: dict, body: bytes) -> Response:
        from .amazon import Response

        doc_id = path[len(DOCUMENT_PATH) :]
        expires = (query.get("X-Amz-Expires") or [""])[0]
        signature = (query.get("X-Amz-Signature") or [""])[0]
        with self.amazon._lock:
            doc = self._documents.get(doc_id)
            if doc is None or not expires.isdigit() or not hmac.compare_digest(signature, self._sign(doc_id, expires)):
                return Response(403, None, content_type="application/xml")
            if int(expires) < time.time():
                return Response(403, None, content_type="application/xml")  # Request has expired
            if method == "PUT":
                if doc["kind"] != "input":
                    return Response(403, None, content_type="application/xml")
                if (hdrs.get("content-type") or "") != doc["contentType"]:
                    # the upload must carry the content type given to createFeedDocument
                    return Response(403, None, content_type="application/xml")
                doc["content"] = body
                self.uploads += 1
                return Response(200, None)
            if method == "GET":
                if doc["content"] is None:
                    return Response(404, None, content_type="application/xml")
                return Response(200, doc["content"], content_type=doc["contentType"])
        return Response(405, None, content_type="application/xml")

    # ------------------------------------------------------------------ processing
    def _process(self, feed: dict) -> list[str]:
        """Apply a cancellation feed; returns the ORDER_CHANGE bodies to deliver (outside the lock)."""
        feed["processingStatus"] = "IN_PROGRESS"
        feed["processingStartTime"] = self._now()
        doc = self._documents[feed["inputFeedDocumentId"]]
        errors: list[tuple[int, str, str, str]] = []  # (record number, order id, item code, message)
        rows = self._rows(doc, errors)
        notes: list[str] = []
        by_order: dict[str, list[tuple[int, str, str]]] = {}
        for number, order_id, item_code, reason in rows:
            by_order.setdefault(order_id, []).append((number, item_code, reason))
        processed = len(rows)
        for order_id, lines in by_order.items():
            order = self.amazon._orders.get(order_id)
            problem = None
            if order is None or not self.amazon._sells(order, feed["_seller"]):
                problem = "The order ID was not found for this seller."
            elif order.marketplace not in feed["marketplaceIds"]:
                problem = f"The order was not placed in marketplace {', '.join(feed['marketplaceIds'])}."
            elif order.fulfillment != "MFN":
                problem = "Orders fulfilled by Amazon cannot be canceled by the seller."
            elif order.status != "Unshipped":
                problem = f"The order is {order.status}; only Unshipped orders can be canceled with this feed."
            if problem:
                errors += [(n, order_id, code, problem) for n, code, _ in lines]
                continue
            items = {it.order_item_id: it for it in order.items}
            bad = [
                (n, code, "The amazon-order-item-code does not belong to this order.")
                for n, code, _ in lines
                if code not in items
            ]
            bad += [
                (n, code, f"Invalid cancellation-reason-code {reason!r}.")
                for n, code, reason in lines
                if reason not in CANCEL_REASONS
            ]
            if bad:
                errors += [(n, order_id, code, msg) for n, code, msg in bad]
                continue
            for _, code, _ in lines:
                items[code].canceled = items[code].qty - items[code].shipped
            if all(it.canceled >= it.qty - it.shipped for it in order.items):
                ts = self.amazon._tick()
                order.status = "Canceled"
                order.last_updated = _iso(ts)
                note = self.amazon._notification(order, ts)
                if note is not None:
                    notes.append(note)
        report_id = self._new_id("amzn1.tortuga.4.na.")
        self._documents[report_id] = {
            "seller": feed["_seller"],
            "contentType": "text/plain; charset=UTF-8",
            "content": _report(processed, errors).encode("utf-8"),
            "kind": "result",
        }
        feed.update({"processingStatus": "DONE", "processingEndTime": self._now(), "resultFeedDocumentId": report_id})
        return notes

    @staticmethod
    def _rows(doc: dict, errors: list) -> list[tuple[int, str, str, str]]:
        """The file's records: (record number, order-id, amazon-order-item-code, cancellation-reason-code)."""
        text = (doc["content"] or b"").decode("utf-8-sig", "replace")
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if not lines:
            errors.append((0, "", "", "The feed file is empty."))
            return []
        header = [h.strip() for h in lines[0].split("\t")]
        if sorted(header) != sorted(CANCELLATION_COLUMNS):
            errors.append((0, "", "", f"The header row must name the columns {', '.join(CANCELLATION_COLUMNS)}."))
            return []
        rows = []
        for number, line in enumerate(lines[1:], 1):
            cells = dict(zip(header, (c.strip() for c in line.split("\t")), strict=False))
            if any(not cells.get(col) for col in CANCELLATION_COLUMNS):
                errors.append(
                    (
                        number,
                        cells.get("order-id", ""),
                        cells.get("amazon-order-item-code", ""),
                        "Every column is required.",
                    )
                )
                continue
            rows.append((number, cells["order-id"], cells["amazon-order-item-code"], cells["cancellation-reason-code"]))
        return rows

    # ------------------------------------------------------------------ helpers
    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _new_id(self, prefix: str) -> str:
        return prefix + secrets.token_hex(16)

    def _now(self) -> str:
        return _iso(self.amazon._tick())

    def _sign(self, doc_id: str, expires: str) -> str:
        return hmac.new(self._key, f"{doc_id}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def _url(self, doc_id: str) -> str:
        expires = str(int(time.time()) + URL_LIFETIME)
        base = self.amazon.base_url if self.amazon._server is not None else "http://127.0.0.1"
        return (
            f"{base}{DOCUMENT_PATH}{quote(doc_id, safe='')}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Expires={expires}&X-Amz-Signature={self._sign(doc_id, expires)}"
        )


def _iso(ts) -> str:
    from .amazon import iso

    return iso(ts)


def _report(processed: int, errors: list[tuple[int, str, str, str]]) -> str:
    """A flat-file processing report: a summary, then one tab-separated line per error."""
    failed_records = {n for n, *_ in errors if n}
    lines = [
        "Feed Processing Summary:",
        f"\tNumber of records processed\t\t{processed}",
        f"\tNumber of records successful\t\t{processed - len(failed_records)}",
        "",
        "original-record-number\torder-id\tamazon-order-item-code\terror-code\terror-type\terror-message",
    ]
    lines += [f"{n}\t{oid}\t{code}\t90001\tError\t{msg}" for n, oid, code, msg in errors]
    return "\n".join(lines) + "\n"
