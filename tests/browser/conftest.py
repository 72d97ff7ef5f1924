"""The orders page in a real browser: Playwright drives Debian's chromium (`/usr/bin/chromium`, or
`CHROMIUM`) against the page served by the embedded stack. No browser is downloaded.

The merchant's store for every story: a mug out of stock (its order blocked in Error), lamps in
stock (two orders waiting to ship, one shipped with UPS tracking).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from amazon_channel_local.orders_page_local import DEMO_PASSWORD, serve_orders_page
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import parse

HERE = Path(__file__).resolve().parent
DOCS = HERE.parents[1] / "docs"
# The README's screenshots are rewritten only when asked (UPDATE_SCREENSHOTS=1): a test run leaves
# the working tree as it found it. Otherwise they go to the test's own temporary folder.
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"
BLOCKED, WAITING, SHIPPED, ALSO_WAITING = (f"113-0000000-00001{n}" for n in ("01", "02", "03", "04"))


def _order(oid: str, buyer: str, email: str, sku: str, price: str) -> list[dict]:
    return [
        {
            "do": "amazon.place_order",
            "order": {
                "id": oid,
                "buyer": {"name": buyer, "email": email},
                "items": [{"sku": sku, "qty": 1, "price": price, "tax": "1.00"}],
            },
        },
        {"do": "amazon.verify_payment", "order_id": oid},
    ]


STORE = {
    "name": "The orders page's store",
    "settings": {"customer_creation": "guest", "order_number_source": "commerce"},
    "catalog": [
        {"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 0},
        {"sku": "LAMP-02", "name": "Desk lamp", "price": "30.00", "qty": 50},
    ],
    "steps": [
        *_order(BLOCKED, "Ana Souza", "ana@example.com", "MUG-01", "12.50"),
        *_order(WAITING, "Bruno Lima", "bruno@example.com", "LAMP-02", "30.00"),
        *_order(SHIPPED, "Carla Dias", "carla@example.com", "LAMP-02", "30.00"),
        *_order(ALSO_WAITING, "Dora Reis", "dora@example.com", "LAMP-02", "30.00"),
        {"do": "settle"},
        {"do": "commerce.ship", "order_id": SHIPPED, "carrier": "UPS", "tracking_number": "1Z999AA10123456785"},
        {"do": "settle"},
    ],
}


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def store() -> Iterator[Player]:
    with Player(parse(STORE, "orders page store"), log_stream=io.StringIO()) as player:
        player.play()
        yield player


@pytest.fixture(scope="module")
def page_url(store: Player) -> Iterator[str]:
    with serve_orders_page(store.stack) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        pytest.fail("Debian's chromium is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def open_page(browser, page_url):
    """A new browser tab per story (bypass_csp only where axe is injected)."""
    contexts = []

    def make(bypass_csp: bool = False, width: int = 1280):
        context = browser.new_context(bypass_csp=bypass_csp, viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield make
    for c in contexts:
        c.close()


def sign_in(page, page_url: str, user: str, path: str = "/page/orders") -> None:
    """Open the page signed out, sign in on the (local) hosted UI, come back to `path`."""
    page.goto(page_url + path)
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(page_url + path)
    page.get_by_role("heading", level=1).wait_for()
