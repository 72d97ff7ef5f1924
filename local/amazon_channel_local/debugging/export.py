"""`amazon-channel export ORDER_ID > order.jsonl`: one order's notifications and history.

One JSON object per line, each with a `type`, in this order:

| type | what |
|---|---|
| `export` | header: format version, order id, where from, when, `pii` (`redacted` or `included`) |
| `store` | the store's configuration: seller, marketplaces, order settings (no secrets) |
| `order` | the channel's state of the order (`ChannelOrder`; the workflow's task token left out) |
| `execution` | the workflow execution `mfn-<order id>`: status, start, stop, error |
| `inbound` | a message the channel received, `at` = when, `source` = amazon (an ORDER_CHANGE notification as sent) or commerce (a shipment event's ids), `event` = the kept message; oldest first |
| `bus_event` | an archived EventBridge event about the order (channel events; Commerce events too where they are on the channel bus), `at` = its time, `event` = the event as EventBridge delivers it |
| `history` | one entry of the order's history, oldest first |

Personal data is pseudonymised unless `--include-pii`: the buyer's name and email become stable
stand-ins (the same buyer gets the same stand-in, so customer-account behaviour reproduces), the
ship-to address keeps only its country and region, the notifications lose their destination
postal code, and email addresses in messages are replaced.
"""  # noqa: E501 - a Markdown table: one row per record type

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidInput
from .order_data import OrderRecords
from .times import iso

FORMAT = "amazon-channel-order-export"
VERSION = 1
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_NOTIFICATION_PII = {"DestinationPostalCode", "BuyerInfo", "ShippingAddress"}


def export_records(records: OrderRecords, *, source: str, include_pii: bool = False) -> list[dict]:
    redact = (lambda v: v) if include_pii else _Redactor()
    out: list[dict] = [
        {
            "type": "export",
            "format": FORMAT,
            "version": VERSION,
            "amazon_order_id": records.amazon_order_id,
            "source": source,
            "exported_at": iso(datetime.now(UTC)),
            "pii": "included" if include_pii else "redacted",
        }
    ]
    if records.store is not None:
        store = {
            k: records.store.get(k)
            for k in ("seller_id", "marketplace_ids", "settings", "commerce_website_id", "commerce_store_id")
            if k in records.store
        }
        out.append({"type": "store", **store})
    if records.state is not None:
        state = records.state.model_dump(mode="json", exclude={"task_token"})
        out.append({"type": "order", "state": redact(state) if include_pii else redact.order(state)})
    if records.execution is not None:
        out.append({"type": "execution", **{k: v for k, v in records.execution.items() if k != "cause"}})
    for e in records.notifications:
        event = e.model_dump(mode="json")
        if not include_pii and event.get("body"):
            event["body"] = redact.notification(event["body"])
        out.append({"type": "inbound", "at": e.at, "source": e.source, "event": event})
    out.extend({"type": "bus_event", "at": iso(e.get("time")), "event": e} for e in records.bus_events)
    for h in records.history:
        entry = h.model_dump(mode="json")
        if not include_pii:
            entry["message"] = redact.text(entry["message"])
            entry["data"] = redact.data(entry["data"])
        out.append({"type": "history", **entry})
    return out


def dumps(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


def load(path: str) -> list[dict]:
    """Read an export file back; a one-line error naming the file and the line when it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{path}: cannot read it ({type(e).__name__})") from None
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            raise InvalidInput(f"{path}: line {n}: not JSON ({e.msg})") from None
        if not isinstance(record, dict) or "type" not in record:
            raise InvalidInput(f"{path}: line {n}: not an export record (no 'type')")
        records.append(record)
    if not records or records[0].get("type") != "export" or records[0].get("format") != FORMAT:
        raise InvalidInput(
            f"{path}: not an order export (its first line must be the 'export' header; "
            "write one with `amazon-channel export ORDER_ID > order.jsonl`)"
        )
    if records[0].get("version") != VERSION:
        raise InvalidInput(f"{path}: export format version {records[0].get('version')!r} is not {VERSION}")
    return records


class _Redactor:
    """Stable pseudonyms for one export: the same email always gives the same stand-in."""

    def __call__(self, value: Any) -> Any:
        return self.data(value)

    @staticmethod
    def _tag(text: str) -> str:
        return hashlib.sha256(text.strip().lower().encode()).hexdigest()[:10]

    def email(self, email: str | None) -> str | None:
        if not email or email.endswith(".invalid"):  # the channel's own placeholders stay as they are
            return email
        return f"buyer-{self._tag(email)}@example.invalid"

    def name(self, name: str | None) -> str | None:
        return None if not name else f"Buyer {self._tag(name)[:6].upper()}"

    def text(self, text: str) -> str:
        return _EMAIL.sub(lambda m: self.email(m.group(0)) or "", text)

    def data(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def order(self, state: dict) -> dict:
        state = self.data(state)
        details = state.get("details")
        if details:
            details["buyer_name"] = self.name(details.get("buyer_name"))
            ship_to = details.get("ship_to")
            if ship_to:
                details["ship_to"] = {k: (ship_to.get(k) if k in ("country", "region") else None) for k in ship_to}
        commerce = state.get("commerce")
        if commerce and commerce.get("customer_email"):
            commerce["customer_email"] = self.email(commerce["customer_email"])
        return state

    def notification(self, body: dict) -> dict:
        def strip(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: strip(x) for k, x in v.items() if k not in _NOTIFICATION_PII}
            if isinstance(v, list):
                return [strip(x) for x in v]
            return v

        return self.data(strip(body))
