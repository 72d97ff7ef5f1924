"""`amazon-channel doctor`: what is missing or broken on a stack, one finding per line with its fix.

Checks, in order (a check that cannot run because an earlier one failed is skipped, not failed):
1. the SP-API secret: a JSON object with `client_id`, `client_secret` and `refresh_tokens`
   (SellerId -> token), at least one;
2. the Commerce secret: the four OAuth 1.0a keys (`access_token` alone with CommerceAuth=bearer);
3. the stores table: at least one store; each item valid as the channel reads it (`StoreConfig`),
   its key equal to its `seller_id`, with a refresh token in the SP-API secret;
4. per seller: the LWA token exchange of its refresh token;
5. the application's grantless token (`sellingpartnerapi::notifications`);
6. the SP-API destination for the stack's notifications queue, and the queue's policy letting
   Amazon's notifications account (437568002678) send to it;
7. per seller: the ORDER_CHANGE subscription (payload 1.0), delivering to that destination;
8. per store: each Commerce route the channel reads answers (GETs only);
9. Commerce events: a deployed stack has CommerceEventSourceName set, its partner event source
   is ACTIVE and its partner bus exists (a local stack takes Commerce events on the channel bus);
10. every dead-letter queue is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..debugging.handle import StackHandle
from .amazon_api import AmazonApi, AmazonRefused
from .commerce_routes import check_routes
from .stack_config import (
    AMAZON_NOTIFICATIONS_ACCOUNT,
    COMMERCE_SECRET,
    NOTIFICATIONS_QUEUE,
    OAUTH1_KEYS,
    SP_API_SECRET,
    Targets,
    commerce_client,
    notifications_queue_arn,
    read_secret,
    read_stores,
    stack_parameters,
)


@dataclass
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.check}: {self.detail}" + (
            "" if self.ok else f" -> fix: {self.fix}"
        )


def doctor(handle: StackHandle, targets: Targets, *, sku: str | None = None) -> list[Finding]:
    out: list[Finding] = []
    stack = f"--stack {handle.stack_name}" if handle.kind == "aws" else "--endpoint URL"
    connect = f"amazon-channel connect {stack}"

    # 1-2. secrets
    sp = read_secret(handle, SP_API_SECRET)
    sp_ok, tokens = _sp_api_secret(out, sp, connect)
    commerce = read_secret(handle, COMMERCE_SECRET)
    needed = ("access_token",) if targets.commerce_auth == "bearer" else OAUTH1_KEYS
    if commerce.value is None:
        out.append(
            Finding(
                "Commerce secret",
                False,
                f"{commerce.secret_id} {commerce.error}",
                f"{connect} with the integration's four credentials",
            )
        )
    else:
        missing = [k for k in needed if not str(commerce.value.get(k) or "").strip()]
        out.append(
            Finding(
                "Commerce secret",
                not missing,
                f"lacks {', '.join(missing)}" if missing else f"{', '.join(needed)} present",
                f"{connect} --commerce-{missing[0].replace('_', '-')} ... (System > Extensions > "
                "Integrations > Integration Details)"
                if missing
                else "",
            )
        )

    # 3. stores
    stores = _stores(out, handle, tokens, connect)

    # 4-7. Amazon
    api = (
        AmazonApi(
            targets.sp_api_endpoint,
            targets.lwa_token_url,
            (sp.value or {}).get("client_id", ""),
            (sp.value or {}).get("client_secret", ""),
        )
        if sp_ok
        else None
    )
    seller_tokens: dict[str, str] = {}
    for seller, refresh in sorted(tokens.items()) if api else []:
        try:
            seller_tokens[seller] = api.seller_token(refresh)
            out.append(Finding(f"LWA seller {seller}", True, "token exchange works"))
        except AmazonRefused as e:
            out.append(
                Finding(
                    f"LWA seller {seller}",
                    False,
                    str(e),
                    f"the seller re-authorizes the app and you run {connect} --seller-id {seller} "
                    "--refresh-token ...; if every seller fails, check the LWA client secret (rotated?)",
                )
            )
    queue_arn = notifications_queue_arn(handle)
    out.append(_queue_policy(handle))
    destination = None
    if api:
        try:
            grantless = api.grantless_token()
            out.append(Finding("LWA grantless token", True, "sellingpartnerapi::notifications granted"))
            found = [
                d
                for d in api.destinations(grantless)
                if (d.get("resource") or {}).get("sqs", {}).get("arn") == queue_arn
            ]
            destination = found[0]["destinationId"] if found else None
            out.append(
                Finding(
                    "notification destination",
                    bool(found),
                    f"{destination} -> {queue_arn}" if found else f"none delivers to {queue_arn}",
                    "" if found else connect,
                )
            )
        except AmazonRefused as e:
            out.append(
                Finding(
                    "Notifications API (grantless)",
                    False,
                    str(e),
                    "check the LWA client id and secret, and that the app has the Notifications role",
                )
            )
    for seller, token in sorted(seller_tokens.items()):
        try:
            sub = api.subscription(token)
        except AmazonRefused as e:
            out.append(Finding(f"ORDER_CHANGE subscription {seller}", False, str(e), connect))
            continue
        if sub is None:
            out.append(
                Finding(
                    f"ORDER_CHANGE subscription {seller}",
                    False,
                    "none (Amazon sends this seller's order changes nowhere; only the order sync brings them)",
                    f"{connect} --seller-id {seller}",
                )
            )
        elif destination and sub["destinationId"] != destination:
            out.append(
                Finding(
                    f"ORDER_CHANGE subscription {seller}",
                    False,
                    f"{sub['subscriptionId']} delivers to destination {sub['destinationId']}, not this stack's queue",
                    f"{connect} --seller-id {seller} --move-subscription",
                )
            )
        else:
            out.append(
                Finding(
                    f"ORDER_CHANGE subscription {seller}",
                    True,
                    f"{sub['subscriptionId']} (payload {sub['payloadVersion']}) -> {sub['destinationId']}",
                )
            )

    # 8. Commerce
    if commerce.value is not None and all(str(commerce.value.get(k) or "").strip() for k in needed):
        client = commerce_client(targets, commerce.value)
        websites = sorted({int(s.get("commerce_website_id") or 1) for s in stores}) or [1]
        for website in websites:
            for r in check_routes(client, sku=sku, website_id=website):
                where = f" (website {website})" if len(websites) > 1 else ""
                out.append(Finding(f"Commerce {r.route}{where}", r.ok, r.detail or f"answers {r.status}", r.fix))

    # 9-10. AWS wiring
    out.append(_commerce_events(handle))
    out += _dead_letter_queues(handle)
    return out


def _sp_api_secret(out: list[Finding], sp, connect: str) -> tuple[bool, dict[str, str]]:
    if sp.value is None:
        out.append(
            Finding(
                "SP-API secret",
                False,
                f"{sp.secret_id} {sp.error}",
                f"{connect} --client-id ... --client-secret ... --seller-id ... --refresh-token ...",
            )
        )
        return False, {}
    missing = [k for k in ("client_id", "client_secret") if not str(sp.value.get(k) or "").strip()]
    tokens = sp.value.get("refresh_tokens")
    tokens = {s: t for s, t in tokens.items() if isinstance(t, str) and t.strip()} if isinstance(tokens, dict) else {}
    if missing:
        out.append(
            Finding(
                "SP-API secret",
                False,
                f"lacks {', '.join(missing)}",
                f"{connect} --{missing[0].replace('_', '-')} ... (your SP-API app's LWA credentials)",
            )
        )
    elif not tokens:
        out.append(
            Finding(
                "SP-API secret",
                False,
                "no seller refresh token under refresh_tokens",
                f"{connect} --seller-id ... --refresh-token ...",
            )
        )
    else:
        out.append(Finding("SP-API secret", True, f"client_id, client_secret, {len(tokens)} refresh token(s)"))
    return not missing, tokens


def _stores(out: list[Finding], handle: StackHandle, tokens: dict[str, str], connect: str) -> list[dict]:
    from pydantic import ValidationError

    from amazon_channel.domain.models import StoreConfig

    items = read_stores(handle)
    if not items:
        out.append(Finding("stores", False, "the stores table has no store", f"{connect} --seller-id ..."))
        return []
    valid = []
    for seller, value in sorted(items.items()):
        try:
            config = StoreConfig.model_validate(value) if isinstance(value, dict) else None
            if config is None:
                raise ValueError("its value is not a JSON object")
        except (ValidationError, ValueError) as e:
            first = e.errors()[0] if isinstance(e, ValidationError) else None
            why = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else str(e)
            out.append(
                Finding(
                    f"store {seller}",
                    False,
                    f"not a valid store item ({why})",
                    f"{connect} --seller-id {seller} (rewrites the item)",
                )
            )
            continue
        if config.seller_id != seller:
            out.append(
                Finding(
                    f"store {seller}", False, f"its seller_id is {config.seller_id}", f"{connect} --seller-id {seller}"
                )
            )
            continue
        if seller not in tokens:
            out.append(
                Finding(
                    f"store {seller}",
                    False,
                    "no refresh token for this seller in the SP-API secret",
                    f"{connect} --seller-id {seller} --refresh-token ...",
                )
            )
        else:
            out.append(
                Finding(
                    f"store {seller}",
                    True,
                    f"marketplaces {', '.join(config.marketplace_ids)}; "
                    f"customers {config.settings.customer_creation}; connected {config.connected_at}",
                )
            )
        valid.append(value)
    out.extend(
        Finding(
            f"store {seller}",
            False,
            "a refresh token but no store item: its orders are parked as UnknownStore",
            f"{connect} --seller-id {seller} --marketplace ...",
        )
        for seller in sorted(set(tokens) - set(items))
    )
    return valid


def _queue_policy(handle: StackHandle) -> Finding:
    url = handle.need(NOTIFICATIONS_QUEUE)
    policy = (
        handle.client("sqs")
        .get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        .get("Attributes", {})
        .get("Policy", "")
    )
    ok = AMAZON_NOTIFICATIONS_ACCOUNT in policy and "sqs:SendMessage" in policy
    return Finding(
        "notifications queue policy",
        ok,
        f"Amazon's account {AMAZON_NOTIFICATIONS_ACCOUNT} " + ("may send" if ok else "may not send"),
        "redeploy the stack (NotificationsQueuePolicy)",
    )


def _commerce_events(handle: StackHandle) -> Finding:
    source = stack_parameters(handle).get("CommerceEventSourceName", "")
    if not source:
        if handle.kind == "aws":
            return Finding(
                "Commerce events",
                False,
                "CommerceEventSourceName is empty: Commerce's shipments and cancellations never reach the stack",
                "accept Adobe I/O Events' partner event source in EventBridge and `sam deploy "
                "--parameter-overrides CommerceEventSourceName=aws.partner/developer.adobe.com/<id>`",
            )
        return Finding("Commerce events", True, "a local stack: Commerce events arrive on the channel bus")
    try:
        state = handle.client("events").describe_event_source(Name=source).get("State", "")
    except Exception as e:  # noqa: BLE001
        return Finding(
            "Commerce events",
            False,
            f"partner event source {source}: {type(e).__name__}",
            "check the name under EventBridge > Partner event sources and the Adobe event registration",
        )
    if state != "ACTIVE":
        return Finding(
            "Commerce events",
            False,
            f"partner event source {source} is {state or 'unknown'}",
            "associate it with an event bus: redeploy with CommerceEventSourceName (the stack creates it)",
        )
    bus = handle.resources.get("CommercePartnerEventBus")
    return Finding(
        "Commerce events",
        bool(bus),
        f"partner event source {source} ACTIVE" + (f", bus {bus}" if bus else ", but the stack has no partner bus"),
        "" if bus else "redeploy with CommerceEventSourceName set",
    )


def _dead_letter_queues(handle: StackHandle) -> list[Finding]:
    from ..debugging.topology import depth, queues

    out = []
    every = queues(handle)
    dlq_arns = {q.dead_letter_arn for q in every if q.dead_letter_arn}
    for q in every:
        if q.arn not in dlq_arns:
            continue
        n = sum(depth(handle, q.url).values())
        stack = f"--stack {handle.stack_name}" if handle.kind == "aws" else "--endpoint URL"
        out.append(
            Finding(
                f"dead-letter queue {q.logical_id}",
                n == 0,
                "empty" if n == 0 else f"{n} message(s)",
                f"see why: `amazon-channel redrive {q.logical_id} {stack} --dry-run`; once fixed, redrive",
            )
        )
    return out


def summary(findings: list[Finding]) -> dict[str, Any]:
    return {
        "ok": all(f.ok for f in findings),
        "failed": sum(not f.ok for f in findings),
        "findings": [{"check": f.check, "ok": f.ok, "detail": f.detail, "fix": f.fix} for f in findings],
    }
