"""The merchant's Amazon orders page, used in a real browser (chromium) against the embedded stack."""

from __future__ import annotations

import re
from pathlib import Path

from amazon_channel_local.scenario import parse
from conftest import ALSO_WAITING, BLOCKED, DOCS, SHIPPED, STORE, UPDATE_SCREENSHOTS, WAITING, sign_in


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


def test_the_merchant_filters_by_status_and_finds_an_order_by_buyer_email_or_commerce_number(open_page, page_url):
    """Given the Orders page, when the merchant filters, only the matching orders are listed."""
    page = open_page()
    sign_in(page, page_url, "demo-viewer")
    page.get_by_label("Channel status").select_option("Unshipped")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=Unshipped"))
    assert set(_rows(page, "Orders, newest purchase first")) == {WAITING, ALSO_WAITING}

    page.get_by_label("Channel status").select_option("")
    page.get_by_label("Search").fill("bruno@example.com")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"text=bruno"))
    assert _rows(page, "Orders, newest purchase first") == [WAITING]

    number = page.locator("tbody tr td").nth(4).inner_text()
    page.get_by_label("Search").fill(number)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(rf"text={number}"))
    assert _rows(page, "Orders, newest purchase first") == [WAITING]


def test_an_order_shows_its_timeline_and_the_tracking_amazon_got(open_page, page_url):
    """Given a shipped order, when the merchant opens it, the timeline and the UPS tracking are shown."""
    page = open_page()
    sign_in(page, page_url, "demo-viewer")
    page.get_by_role("link", name=SHIPPED).click()
    page.wait_for_url(f"{page_url}/page/orders/{SHIPPED}")
    packages = page.locator("table", has=page.locator("th", has_text="Tracking"))
    assert "1Z999AA10123456785" in packages.inner_text() and "UPS" in packages.inner_text()
    timeline = page.locator("ol.timeline li").all_inner_texts()
    assert len(timeline) >= 5
    assert all(re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", line) for line in timeline)
    admin = page.get_by_role("link", name=re.compile(r"opens Commerce admin")).get_attribute("href")
    assert re.search(r"/admin/sales/order/view/order_id/\d+/$", admin)


def _settle_and_reload(store, page) -> None:
    store.stack.settle()
    page.reload()
    page.get_by_role("heading", level=1).wait_for()


def _fix_the_catalog(store) -> None:
    fix = parse({**STORE, "steps": [{"do": "catalog.set", "sku": "MUG-01", "qty": 20}]}, "the mug is back")
    for step in fix.steps:
        store.run(step)


def test_retry_imports_the_blocked_order_once_the_catalog_is_fixed(store, open_page, page_url):
    """Given the mug back in stock, when an operator retries the blocked order, it reaches Commerce."""
    _fix_the_catalog(store)
    page = open_page()
    sign_in(page, page_url, "demo-operator", f"/page/orders/{BLOCKED}")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Retry now").dblclick()
    page.get_by_role("status").wait_for()
    assert "Retry started" in page.get_by_role("status").inner_text()
    _settle_and_reload(store, page)
    summary = page.locator("dl.summary").inner_text()
    assert "Unshipped" in summary and "not in Commerce" not in summary
    timeline = page.locator("ol.timeline").inner_text()
    assert timeline.count("Retry asked by demo-operator on the orders page") == 1


def test_cancel_on_amazon_with_one_of_amazon_s_reasons(store, open_page, page_url):
    """Given an Unshipped order, when an operator cancels it on Amazon (out of stock), Amazon cancels it."""
    page = open_page()
    sign_in(page, page_url, "demo-operator", f"/page/orders/{ALSO_WAITING}")
    page.get_by_label("Reason for Amazon").select_option("NoInventory")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Cancel on Amazon").click()
    page.get_by_role("status").wait_for()
    assert "Cancellation sent" in page.get_by_role("status").inner_text()
    _settle_and_reload(store, page)
    summary = page.locator("dl.summary").inner_text()
    assert "Amazon status\nCanceled" in summary and "Channel status\nCanceled" in summary
    assert "Cancel on Amazon asked by demo-operator: Out of stock" in page.locator("ol.timeline").inner_text()


def _post(page, path: str, form: dict) -> tuple[int, str]:
    """A POST from the signed-in tab, with its bearer token (what a forged or replayed form would send)."""
    answer = page.evaluate(
        """async ([path, form]) => {
            const r = await fetch(path, {method: "POST", body: new URLSearchParams(form),
              headers: {Authorization: "Bearer " + sessionStorage.getItem("amazon-orders-id-token")}});
            return [r.status, await r.text()];
        }""",
        [path, form],
    )
    return answer[0], answer[1]


def test_a_viewer_sees_no_action_and_is_refused_one(open_page, page_url):
    """Given a viewer, when they open an Unshipped order, there is no action; a POST is refused."""
    page = open_page()
    sign_in(page, page_url, "demo-viewer", f"/page/orders/{WAITING}")
    assert page.get_by_role("button", name="Cancel on Amazon").count() == 0
    assert "Only operators can retry or cancel it" in page.inner_text("main")
    status, body = _post(page, f"/app/orders/{WAITING}/cancel", {"reason": "NoInventory", "action_id": "v1"})
    assert status == 403 and "may view orders but not act on them" in body


def test_a_form_not_served_to_this_session_is_refused(open_page, page_url):
    """Given an operator, when a POST carries another session's CSRF token, nothing is done."""
    page = open_page()
    sign_in(page, page_url, "demo-operator", f"/page/orders/{WAITING}")
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    forged = {"reason": "NoInventory", "action_id": "forged1", "csrf": "0" * len(token)}
    status, body = _post(page, f"/app/orders/{WAITING}/cancel", forged)
    assert status == 403 and "not served to your session" in body
    missing = {"reason": "NoInventory", "action_id": "forged2"}
    assert _post(page, f"/app/orders/{WAITING}/cancel", missing)[0] == 403
    page.reload()
    page.get_by_role("heading", level=1).wait_for()
    assert page.get_by_role("button", name="Cancel on Amazon").count() == 1  # still Unshipped


def test_the_same_form_sent_twice_does_one_thing(store, open_page, page_url):
    """Given a redrive form, when it is sent twice (a double-click that got through), one redrive is done."""
    sqs = store.stack.client("sqs")
    sqs.send_message(QueueUrl=store.stack.queue_url("FbaOrderImportDeadLetterQueue"), MessageBody="{}")
    page = open_page()
    sign_in(page, page_url, "demo-operator", "/page/health")
    form = page.locator("form", has=page.get_by_role("button", name="Redrive FbaOrderImport"))
    fields = {f.get_attribute("name"): f.get_attribute("value") for f in form.locator("input[type=hidden]").all()}
    first, second = _post(page, "/app/health/redrive", fields), _post(page, "/app/health/redrive", fields)
    assert first[0] == 200 and "1 message(s) moved from FbaOrderImport" in first[1]
    assert second[0] == 200 and "This redrive was already asked for." in second[1]


AXE = Path(__file__).resolve().parent / "axe.min.js"
PAGES = {"orders-page": "/page/orders", "order-page": f"/page/orders/{SHIPPED}", "health-page": "/page/health"}


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in found]


def test_every_page_passes_axe_with_no_serious_violation_and_is_saved_for_the_readme(open_page, page_url, tmp_path):
    """Given each page on a laptop and a phone, axe-core finds nothing serious; screenshots go to docs/
    with UPDATE_SCREENSHOTS=1."""
    shots = DOCS if UPDATE_SCREENSHOTS else tmp_path
    for width in (1280, 390):
        page = open_page(bypass_csp=True, width=width)  # axe is injected as a script: only here
        sign_in(page, page_url, "demo-operator")
        for name, path in PAGES.items():
            page.goto(page_url + path)
            page.get_by_role("heading", level=1).wait_for()
            page.wait_for_load_state("networkidle")
            violations = _axe(page)
            print(f"axe {name} @{width}px: {violations or 'no violations'}")
            assert [v for v in violations if v["impact"] in ("serious", "critical")] == [], (name, width)
            if width == 1280:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_the_page_is_usable_with_the_keyboard(open_page, page_url):
    """Given the Orders page, a merchant reaches the filters and an order with Tab and Enter."""
    page = open_page()
    sign_in(page, page_url, "demo-viewer")
    page.wait_for_function("document.activeElement.tagName === 'H1'")  # new content is announced
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-store"
    page.get_by_role("link", name=WAITING).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{page_url}/page/orders/{WAITING}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Order {WAITING}"


def test_the_page_never_logs_a_buyer_s_name_or_email(store, open_page, page_url):
    """Given the stories above, the page's own log lines name users and orders, never a buyer."""
    page = open_page()
    sign_in(page, page_url, "demo-operator", f"/page/orders?text={WAITING}")
    lines = [line for line in store.log_stream.getvalue().splitlines() if "orders-page" in line]
    assert any("demo-operator" in line for line in lines)
    buyers = ("Ana Souza", "ana@example.com", "Bruno Lima", "bruno@example.com", "Carla Dias", "Dora Reis")
    assert not [line for line in lines if any(b in line for b in buyers)]
