"""Readable lifecycle tables of a scenario result: each order, snapshot by snapshot."""

from __future__ import annotations

from rich.table import Table


def _row(label: str, order: dict) -> list[str]:
    commerce = order.get("commerce_order") or {}
    confirmations = order.get("amazon_shipment_confirmations") or []
    customer = (
        "" if not commerce else ("guest" if commerce["customer_is_guest"] else f"account {commerce['customer_email']}")
    )
    return [
        label,
        order["amazon_status"] or "-",
        order["channel_status"] or "not imported",
        "yes" if order["visible_in_orders_tab"] else "no",
        commerce.get("increment_id", "-"),
        commerce.get("status", "-"),
        customer or "-",
        ", ".join(f"{c['carrier']} {c['tracking_number']}" for c in confirmations) or "-",
    ]


def lifecycle_tables(result: dict) -> list[Table]:
    """One table per order: a row for each snapshot, then the final state."""
    tables = []
    for order in result["orders"]:
        table = Table(title=f"{order['amazon_order_id']} ({order['fulfillment']})", title_justify="left")
        for column in (
            "moment",
            "Amazon",
            "channel",
            "shown",
            "Commerce #",
            "Commerce",
            "customer",
            "tracking synced to Amazon",
        ):
            table.add_column(column, overflow="fold")
        for label, snapshot in result.get("snapshots", {}).items():
            for earlier in snapshot["orders"]:
                if earlier["amazon_order_id"] == order["amazon_order_id"]:
                    table.add_row(*_row(label, earlier))
        table.add_row(*_row("final", order))
        if order.get("notes"):
            table.caption = f"notes: {order['notes']}"
        tables.append(table)
    return tables
