"""Adobe Commerce events as Adobe I/O Events delivers them to Amazon EventBridge.

What Adobe documents ("Adobe I/O Events and Amazon EventBridge Integration"):
- `source` is the partner event source, `aws.partner/developer.adobe.com/<id>` (a test
  registration: `aws.partner/developer.adobe.com.test/<id>`);
- `detail-type` is `<event provider label>:<event code>`; the label is whatever the merchant named
  the provider, so only the event code (`com.adobe.commerce.observer.<name>`) is read;
- "the event data is enclosed within the `detail` key".

Where the Commerce payload sits inside `detail` is not documented: the CloudEvent's `data.value`
(Adobe Commerce's events docs show `event.data.value`), `data` itself, or the payload directly in
`detail`. All are accepted. The payload holds only the fields the merchant selected in the event
registration, and ids may be strings (Adobe's sample payload has `"entity_id": "3"`), so only ids
are read here; everything else is re-read through Commerce REST.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import PermanentError

EVENT_SOURCE_PREFIX = "aws.partner/developer.adobe.com"
SHIPMENT_SAVED = "com.adobe.commerce.observer.sales_order_shipment_save_after"
ORDER_CANCELED = "com.adobe.commerce.observer.order_cancel_after"
CREDIT_MEMO_SAVED = "com.adobe.commerce.observer.sales_order_creditmemo_save_after"

_DIGITS = re.compile(r"^[0-9]+$")


class InvalidCommerceEvent(PermanentError):
    """A Commerce event that can never be handled: unknown code, no payload, or a bad id."""


def event_code(detail_type: Any) -> str:
    """The event code of an Adobe I/O `detail-type` (`<provider label>:<event code>`)."""
    if not isinstance(detail_type, str) or ":" not in detail_type:
        raise InvalidCommerceEvent(f"detail-type {detail_type!r} is not '<provider label>:<event code>'")
    return detail_type.rsplit(":", 1)[1]


def payload(detail: Any) -> dict[str, Any]:
    """The Commerce payload (the observed entity's selected fields) wherever `detail` carries it.

    Looked for in order: `detail.data.value`, `detail.data`, `detail`; the same under `detail.event`
    (the shape Adobe's journaling API wraps a CloudEvent in). A place counts when it has `entity_id`.
    """
    if not isinstance(detail, dict):
        raise InvalidCommerceEvent(f"detail is {type(detail).__name__}, not an object")
    for event in (detail, detail.get("event")):
        if not isinstance(event, dict):
            continue
        data = event.get("data")
        for place in ((data or {}).get("value") if isinstance(data, dict) else None, data, event):
            if isinstance(place, dict) and "entity_id" in place:
                return place
    raise InvalidCommerceEvent("no Commerce payload with entity_id in detail.data.value, detail.data or detail")


def commerce_id(value: Any, field: str) -> int:
    """A Commerce entity id, sent as a number or as a string of digits."""
    if isinstance(value, bool) or value is None:
        raise InvalidCommerceEvent(f"{field} is missing" if value is None else f"{field} {value!r} is not an id")
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    if isinstance(value, str) and _DIGITS.match(value.strip()) and int(value) > 0:
        return int(value)
    raise InvalidCommerceEvent(f"{field} {value!r} is not an id")


def ids(detail: Any) -> dict[str, Any]:
    """The payload's ids and times, for keeping beside the order (never buyer data)."""
    try:
        found = payload(detail)
    except InvalidCommerceEvent:
        return {}
    return {k: found[k] for k in ("entity_id", "order_id", "increment_id", "created_at", "store_id") if k in found}
