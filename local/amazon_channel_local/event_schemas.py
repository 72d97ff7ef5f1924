"""JSON Schemas of the channel's events (amazon_channel.domain.channel_events), for the ERP:
events/schemas/<detail-type>.json, generated from the models.

    python -m amazon_channel_local.event_schemas           # write them
    python -m amazon_channel_local.event_schemas --check   # exit 1 if a committed one differs

Each schema describes the whole EventBridge event as a rule's target receives it: `source` and
`detail-type` fixed, `detail` the model's fields.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from amazon_channel.domain.channel_events import EVENTS, SOURCE, ChannelEvent

SCHEMAS = Path(__file__).resolve().parents[2] / "events" / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def event_schema(event: type[ChannelEvent]) -> dict[str, Any]:
    """The JSON Schema of `event` on the bus: EventBridge's envelope around the model's `detail`."""
    detail = event.model_json_schema()
    detail.pop("title", None)
    return {
        "$schema": DIALECT,
        "$id": f"{event.detail_type}.json",
        "title": event.detail_type,
        "description": (event.__doc__ or "").strip(),
        "type": "object",
        "required": ["source", "detail-type", "detail"],
        "properties": {
            "version": {"type": "string"},
            "id": {"type": "string", "description": "EventBridge's id of this copy (not the channel's event_id)."},
            "source": {"const": SOURCE},
            "detail-type": {"const": event.detail_type},
            "account": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "region": {"type": "string"},
            "resources": {"type": "array", "items": {"type": "string"}},
            "detail": detail,
        },
    }


def rendered() -> dict[str, str]:
    """File name -> text of every event's schema."""
    return {f"{e.detail_type}.json": json.dumps(event_schema(e), indent=2) + "\n" for e in EVENTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amazon_channel_local.event_schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with events/schemas/ instead of writing")
    args = parser.parse_args(argv)
    want = rendered()
    if args.check:
        stale = sorted(
            n for n, text in want.items() if not (SCHEMAS / n).is_file() or (SCHEMAS / n).read_text() != text
        )
        extra = sorted(p.name for p in SCHEMAS.glob("*.json") if p.name not in want)
        for name in stale + extra:
            print(f"events/schemas/{name}: {'not an event any more' if name in extra else 'differs from its model'}")
        return 1 if stale or extra else 0
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for name, text in want.items():
        (SCHEMAS / name).write_text(text)
    print(f"wrote {len(want)} schemas to {SCHEMAS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
