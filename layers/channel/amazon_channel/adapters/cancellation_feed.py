"""The seller's order cancellation, as Amazon takes it: the flat-file feed
`POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA` sent through the Feeds API (v2021-06-30).

Why this feed: Amazon's current "Order Feed Type Values" page documents it as the feed that
"cancels multiple orders at the same time" (columns `order-id`, `amazon-order-item-code`,
`cancellation-reason-code`); the XML order acknowledgement feed (StatusCode Failure) belongs to the
XML feeds Amazon is retiring in favour of JSON and flat files. The Orders API v2026-01-01
`cancelOrder` operation was published in Amazon's models and pruned again: it is not in the
official model the channel is checked against. The Feeds API is (`feeds_2021-06-30.json`).

Pure functions only (no HTTP): the file to upload, and the reading of the processing report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.models import OrderCancellation

FEED_TYPE = "POST_FLAT_FILE_ORDER_ACKNOWLEDGEMENT_DATA"
CONTENT_TYPE = "text/tab-separated-values; charset=UTF-8"
COLUMNS = ("order-id", "amazon-order-item-code", "cancellation-reason-code")


def feed_file(cancellation: OrderCancellation) -> bytes:
    """The tab-separated file: a header row, then one row per item of the order to cancel."""
    rows = ["\t".join(COLUMNS)]
    rows += [
        f"{cancellation.amazon_order_id}\t{item_id}\t{cancellation.reason_code}"
        for item_id in cancellation.order_item_ids
    ]
    return ("\n".join(rows) + "\n").encode("utf-8")


@dataclass
class ProcessingReport:
    processed: int = 0
    successful: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.errors and self.processed > 0 and self.successful == self.processed


def read_report(text: str) -> ProcessingReport:
    """Read a flat-file processing report: the summary counts and the error lines' messages."""
    report = ProcessingReport()
    header: list[str] | None = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("\t")]
        label = cells[0].lower() if cells else ""
        numbers = [c for c in cells[1:] if c.isdigit()]
        if "records processed" in line.lower() and numbers:
            report.processed = int(numbers[-1])
        elif "records successful" in line.lower() and numbers:
            report.successful = int(numbers[-1])
        elif label == "original-record-number":
            header = [c.lower() for c in cells]
        elif header and len(cells) >= len(header) - 1 and any(cells):
            row = dict(zip(header, cells, strict=False))
            if row.get("error-type", "Error").lower() == "error":
                report.errors.append(row.get("error-message") or line.strip())
    return report
