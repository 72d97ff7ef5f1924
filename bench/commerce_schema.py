#!/usr/bin/env python
"""Commerce traffic against Adobe's admin REST schema: the closing note's figures, and the cost.

    .venv/bin/python bench/commerce_schema.py [--json]

Plays every shipped scenario (`scenarios/*.json`, `tests/scenarios/*.json`) as `amazon-channel
simulate` does, the simulated Commerce on schema 2.4.9 with response validation on, records the
Commerce traffic, and checks it against each schema version (2.4.7, 2.4.8, 2.4.9). Prints, per
version: requests and responses validated, requests the schema refuses, responses outside it
(targets 0), and the validation time per request and per response (the schema load itself, about
0.4 s per version once per process, is not included). About 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "layers" / "channel", ROOT / "local"):
    sys.path.insert(0, str(p))
for k, v in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "SIM_COMMERCE_VALIDATE_RESPONSES": "1",
}.items():
    os.environ.setdefault(k, v)

from amazon_channel_local.player import play_file  # noqa: E402
from amazon_channel_local.simulators import commerce_schema  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    scenarios = sorted(ROOT.glob("scenarios/*.json")) + sorted(ROOT.glob("tests/scenarios/*.json"))
    start = time.perf_counter()
    with commerce_schema.recorded() as traffic, open(os.devnull, "w") as log:
        for path in scenarios:
            play_file(str(path), log_stream=log)
    played = time.perf_counter() - start
    live = commerce_schema.take_violations()
    rows = []
    for version in commerce_schema.VERSIONS:
        commerce_schema.schema(version)  # loaded before timing
        f = commerce_schema.revalidate(traffic, version)
        rows.append(
            {
                "version": version,
                "requests": f.requests,
                "responses": f.responses,
                "refused": len(f.refused),
                "violations": len(f.violations),
                "us_per_request": round(f.request_seconds / max(f.requests, 1) * 1e6),
                "us_per_response": round(f.response_seconds / max(f.responses, 1) * 1e6),
                "details": f.refused[:5] + f.violations[:5],
            }
        )
    if args.json:
        print(
            json.dumps(
                {
                    "scenarios": len(scenarios),
                    "play_seconds": round(played, 1),
                    "live_violations": live,
                    "versions": rows,
                },
                indent=2,
            )
        )
    else:
        print(f"{len(scenarios)} scenarios played in {played:.0f} s; live response violations: {len(live)}")
        print(
            f"{'schema':8} {'requests':>9} {'responses':>10} {'refused':>8} {'violations':>11} "
            f"{'µs/request':>11} {'µs/response':>12}"
        )
        for r in rows:
            print(
                f"{r['version']:8} {r['requests']:>9} {r['responses']:>10} {r['refused']:>8} "
                f"{r['violations']:>11} {r['us_per_request']:>11} {r['us_per_response']:>12}"
            )
            for d in r["details"]:
                print("   ", d)
    bad = live or any(r["refused"] or r["violations"] for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
