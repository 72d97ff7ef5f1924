"""The merchant's Amazon orders page, used in a real browser (chromium) against the embedded stack."""

from __future__ import annotations

import json
import re

from conftest import ALSO_WAITING, BLOCKED, SHIPPED, WAITING, sign_in


def _rows(page, caption: str) -> list[str]:
    table = page.locator("table", has=page.locator("caption", has_text=caption))
    return table.locator("tbody tr th[scope=row]").all_inner_texts()


def test_a_merchant_signs_in_and_sees_the_blocked_order_first(open_page, page_url):
    """Given a store with a blocked order, when the merchant signs in, the order in Error is shown first."""
    page = open_page()
    sign_in(page, page_url, "demo-operator")
    assert "Signed in as demo-operator" in page.locator("#signed-in-user").inner_text()
    assert _rows(page, "Orders in Error") == [BLOCKED]
    assert page.locator("h1 .badge").inner_text() == "1 in Error"
    assert set(_rows(page, "Orders, newest purchase first")) == {WAITING, SHIPPED, ALSO_WAITING}
