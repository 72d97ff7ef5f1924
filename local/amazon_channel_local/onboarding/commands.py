"""The command line of `amazon-channel connect` and `amazon-channel doctor` (`cli.py` registers them).

Exit codes, as the debugging commands': 0 done, all green; 2 invalid arguments or input, or a
credential given to connect that Amazon or Commerce refuses (nothing stored); 4 the command ran
and something needs a person (doctor: a check failed; connect: a Commerce route or the
subscription needs attention); 5 the stack cannot be reached; 1 anything else.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from ..debugging.errors import EXIT_ATTENTION, EXIT_FAILED, EXIT_OK, CommandError, InvalidInput, explain_aws_error
from ..debugging.handle import StackHandle, from_arguments

COMMANDS = ("connect", "doctor")
_EXIT_CODES = (
    "exit codes: 0 all green; 2 invalid arguments or input (connect: a refused credential, nothing "
    "stored); 4 something needs a person; 5 the stack cannot be reached; 1 unexpected failure"
)
_CONFIG_HELP = """JSON, for automation (keeps secrets off the command line; "-" reads standard input):
{"lwa": {"client_id": "...", "client_secret": "..."},
 "commerce": {"consumer_key": "...", "consumer_secret": "...", "access_token": "...", "access_token_secret": "..."},
 "stores": [{"seller_id": "...", "refresh_token": "Atzr|...", "marketplace_ids": ["ATVPDKIKX0DER"],
             "settings": {"customer_creation": "guest", ...}, "commerce_website_id": 1, "commerce_store_id": 1}]}"""
_SETTINGS = {"import_orders": bool, "customer_creation": str, "order_number_source": str, "import_fba_orders": bool}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "connect",
        help="connect an Amazon store to a deployed stack (credentials, settings, notifications, Commerce check)",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Per store: stores the LWA and Commerce credentials in the stack's secrets (merged: other "
            "sellers' tokens are kept), writes the store's settings, creates (or finds) the SP-API "
            "notification destination for the stack's queue and the seller's ORDER_CHANGE "
            "subscription, and checks that Commerce answers every route the channel reads (GETs "
            "only). Credentials are tried before anything is stored. Missing values are asked for "
            "when standard input is a terminal. Running it again changes nothing.\n\n--config " + _CONFIG_HELP
        ),
    )
    p.add_argument("--config", metavar="FILE", help="the stores and credentials as JSON (see above)")
    p.add_argument("--seller-id", metavar="ID", help="the seller account (Merchant Token / SellerId)")
    p.add_argument("--refresh-token", metavar="TOKEN", help="the seller's LWA refresh token (Atzr|...)")
    p.add_argument(
        "--marketplace",
        action="append",
        metavar="ID",
        dest="marketplaces",
        help="a marketplace id of the store (repeat; e.g. ATVPDKIKX0DER)",
    )
    p.add_argument("--client-id", help="your SP-API app's LWA client id (kept when the secret has one)")
    p.add_argument("--client-secret", help="your SP-API app's LWA client secret (kept when the secret has one)")
    for key in ("consumer-key", "consumer-secret", "access-token", "access-token-secret"):
        p.add_argument(f"--commerce-{key}", metavar="VALUE", help=f"the Commerce integration's {key.replace('-', ' ')}")
    p.add_argument("--customer-creation", choices=("guest", "create"))
    p.add_argument("--order-number-source", choices=("commerce", "amazon"))
    p.add_argument("--import-orders", choices=("yes", "no"))
    p.add_argument("--import-fba-orders", choices=("yes", "no"))
    p.add_argument("--website-id", type=int, help="Commerce website id of the store (default 1)")
    p.add_argument("--store-id", type=int, help="Commerce store view id of the store (default 1)")
    p.add_argument("--sku", help="a product the store sells, for the per-product Commerce checks")
    p.add_argument(
        "--move-subscription",
        action="store_true",
        help="the seller's ORDER_CHANGE subscription delivers elsewhere (an old stack): move it here",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _common(p)

    p = sub.add_parser(
        "doctor",
        help="report what is missing or broken on a stack, with the fix for each",
        epilog=_EXIT_CODES,
        description=(
            "Checks the secrets, the stores, each seller's LWA token exchange, the grantless token, "
            "the notification destination and subscriptions, the Commerce routes, Commerce events "
            "and the dead-letter queues; one line each, with the fix."
        ),
    )
    p.add_argument("--sku", help="a product the store sells, for the per-product Commerce checks")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    _common(p)


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "stack",
        "--stack NAME (deployed) or --endpoint URL (amazon-channel local up); defaults "
        "from $AMAZON_CHANNEL_STACK and $AMAZON_CHANNEL_ENDPOINT",
    )
    g.add_argument("--stack", metavar="NAME")
    g.add_argument("--endpoint", metavar="URL")
    g.add_argument("--region")
    g.add_argument("--profile")
    g = p.add_argument_group(
        "where the stack's functions reach Amazon and Commerce (default: the stack's "
        "parameters, or local up's simulators)"
    )
    g.add_argument("--sp-api-endpoint", metavar="URL")
    g.add_argument("--lwa-token-url", metavar="URL")
    g.add_argument("--commerce-url", metavar="URL")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")


def main(argv: list[str] | None = None, handle: StackHandle | None = None, targets=None, stdin=None) -> int:
    """The two commands alone (tests pass an embedded stack's handle and the simulators' URLs)."""
    parser = argparse.ArgumentParser(prog="amazon-channel")
    parser.add_argument("--debug", action="store_true")
    register(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv), handle=handle, targets=targets, stdin=stdin)


def run(args: argparse.Namespace, handle: StackHandle | None = None, targets=None, stdin=None) -> int:
    from .stack_config import targets_of

    try:
        stores = _inputs(args, stdin or sys.stdin) if args.command == "connect" else []
        if handle is None:
            handle = from_arguments(args.stack, args.endpoint, args.region, args.profile)
        overrides = {
            "sp_api_endpoint": args.sp_api_endpoint,
            "lwa_token_url": args.lwa_token_url,
            "commerce_base_url": args.commerce_url,
        }
        if targets is None:
            endpoint = args.endpoint or (None if args.stack or handle.kind != "endpoint" else _endpoint_of(handle))
            targets = targets_of(handle, endpoint, overrides)
        else:
            targets.__dict__.update({k: v for k, v in overrides.items() if v})
        if args.command == "doctor":
            return _doctor(args, handle, targets)
        return _connect(args, handle, targets, stores)
    except KeyboardInterrupt:
        print(f"amazon-channel {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if getattr(args, "debug", False):
            raise
        if not isinstance(e, CommandError):
            e = explain_aws_error(e, handle.label if handle else "stack") or e
        if isinstance(e, CommandError):
            print(f"amazon-channel {args.command}: {e}", file=sys.stderr)
            return e.exit_code
        first = str(e).splitlines()[0] if str(e) else ""
        print(
            f"amazon-channel {args.command}: {type(e).__name__}: {first} (--debug shows the traceback)", file=sys.stderr
        )
        return EXIT_FAILED


def _endpoint_of(handle: StackHandle) -> str | None:
    return handle.label.rsplit(" at ", 1)[-1] if " at " in handle.label else None


# -- connect --------------------------------------------------------------------------------------
def _connect(args, handle: StackHandle, targets, stores) -> int:
    from .connect import connect

    reports = [connect(handle, targets, store) for store in stores]
    if args.json:
        print(json.dumps({"stores": [r.as_json() for r in reports]}, indent=2))
    for r in reports if not args.json else []:
        print(f"store {r.seller_id} on {r.stack}")
        for step, outcome in r.steps:
            print(f"  ok   {step}: {outcome}")
        for route in r.routes:
            if route.ok:
                print(f"  ok   Commerce {route.route}: {route.detail or 'answers'}")
        for problem, fix in r.problems:
            print(f"  FAIL {problem} -> fix: {fix}")
    if any(r.problems for r in reports):
        return EXIT_ATTENTION
    if not args.json:
        print("connected; `amazon-channel doctor` checks the whole stack")
    return EXIT_OK


def _inputs(args, stdin) -> list:
    """The stores to connect: from --config, else the flags, asking for what is missing on a terminal."""
    from .connect import StoreInput

    if args.config:
        return _from_config(args, stdin)
    seller = args.seller_id
    interactive = stdin.isatty()
    ask = (
        (lambda label, secret=False: (getpass.getpass if secret else input)(f"{label}: ").strip())
        if interactive
        else None
    )
    if not seller:
        if ask is None:
            raise InvalidInput("connect needs --seller-id (or --config FILE); run it in a terminal to be asked")
        seller = ask("Seller id (Seller Central > Settings > Merchant Token)")
    marketplaces = args.marketplaces
    refresh = args.refresh_token
    if ask is not None:
        refresh = refresh or ask("The seller's LWA refresh token (Atzr|..., empty: keep the stored one)", True) or None
        if not marketplaces:
            marketplaces = [
                m.strip()
                for m in ask("Marketplace ids, comma-separated (empty: keep, or ATVPDKIKX0DER)").split(",")
                if m.strip()
            ] or None
    settings = {
        k: v
        for k, v in {
            "customer_creation": args.customer_creation,
            "order_number_source": args.order_number_source,
            "import_orders": None if args.import_orders is None else args.import_orders == "yes",
            "import_fba_orders": None if args.import_fba_orders is None else args.import_fba_orders == "yes",
        }.items()
        if v is not None
    }
    commerce = {
        k: getattr(args, f"commerce_{k}")
        for k in ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
        if getattr(args, f"commerce_{k}")
    }
    store = StoreInput(
        seller_id=seller,
        refresh_token=refresh,
        marketplace_ids=marketplaces,
        settings=settings,
        commerce_website_id=args.website_id,
        commerce_store_id=args.store_id,
        client_id=args.client_id,
        client_secret=args.client_secret,
        commerce=commerce,
        sku=args.sku,
        move_subscription=args.move_subscription,
    )
    if ask is not None:
        _ask_missing_credentials(store, ask)
    return [store]


def _ask_missing_credentials(store, ask) -> None:
    """On a terminal: the LWA client and the Commerce integration, each left empty to keep the stored value."""
    if not store.client_id:
        store.client_id = ask("LWA client id of your SP-API app (empty: keep the stored one)") or None
    if not store.client_secret:
        store.client_secret = ask("LWA client secret (empty: keep the stored one)", True) or None
    for key in ("consumer_key", "consumer_secret", "access_token", "access_token_secret"):
        if key not in store.commerce:
            value = ask(
                f"Commerce integration {key.replace('_', ' ')} (empty: keep the stored one)", key != "consumer_key"
            )
            if value:
                store.commerce[key] = value


def _from_config(args, stdin) -> list:
    from .connect import StoreInput

    try:
        text = stdin.read() if args.config == "-" else open(args.config, encoding="utf-8").read()  # noqa: SIM115
        doc = json.loads(text)
    except OSError as e:
        raise InvalidInput(f"--config {args.config}: {e.strerror}") from None
    except ValueError as e:
        raise InvalidInput(f"--config {args.config}: not JSON ({e})") from None
    if not isinstance(doc, dict) or set(doc) - {"lwa", "commerce", "stores"}:
        raise InvalidInput(f"--config {args.config}: expected an object with lwa, commerce and stores")
    lwa, commerce, stores = doc.get("lwa") or {}, doc.get("commerce") or {}, doc.get("stores") or []
    if set(lwa) - {"client_id", "client_secret"}:
        raise InvalidInput(f"--config {args.config}: lwa takes client_id and client_secret")
    if set(commerce) - {"consumer_key", "consumer_secret", "access_token", "access_token_secret"}:
        raise InvalidInput(
            f"--config {args.config}: commerce takes consumer_key, consumer_secret, access_token, access_token_secret"
        )
    if not isinstance(stores, list) or not stores:
        raise InvalidInput(f"--config {args.config}: stores must list at least one store")
    known = {
        "seller_id",
        "refresh_token",
        "marketplace_ids",
        "settings",
        "commerce_website_id",
        "commerce_store_id",
        "sku",
    }
    out = []
    for n, s in enumerate(stores, 1):
        if not isinstance(s, dict) or not s.get("seller_id") or set(s) - known:
            raise InvalidInput(
                f"--config {args.config}: store {n} needs seller_id and takes only {', '.join(sorted(known))}"
            )
        out.append(
            StoreInput(
                seller_id=s["seller_id"],
                refresh_token=s.get("refresh_token"),
                marketplace_ids=s.get("marketplace_ids"),
                settings=s.get("settings") or {},
                commerce_website_id=s.get("commerce_website_id"),
                commerce_store_id=s.get("commerce_store_id"),
                client_id=lwa.get("client_id"),
                client_secret=lwa.get("client_secret"),
                commerce=dict(commerce),
                sku=s.get("sku") or args.sku,
                move_subscription=args.move_subscription,
            )
        )
    return out


# -- doctor ---------------------------------------------------------------------------------------
def _doctor(args, handle: StackHandle, targets) -> int:
    from .doctor import doctor, summary

    findings = doctor(handle, targets, sku=args.sku)
    if args.json:
        print(json.dumps({"stack": handle.label, **summary(findings)}, indent=2))
    else:
        print(f"doctor: {handle.label}")
        for f in findings:
            print(f.line())
        bad = sum(not f.ok for f in findings)
        print("all green" if not bad else f"{bad} finding(s) need attention")
    return EXIT_OK if all(f.ok for f in findings) else EXIT_ATTENTION


__all__ = ["COMMANDS", "main", "register", "run"]
