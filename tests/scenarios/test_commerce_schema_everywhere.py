"""Every Commerce request the channel sends and every answer the simulated Commerce gives, in every
shipped scenario, follows Adobe's admin REST schema: 2.4.9, 2.4.8 and 2.4.7."""

from pathlib import Path

from amazon_channel_local.player import play_file
from amazon_channel_local.simulators import commerce_schema

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(ROOT.glob("scenarios/*.json")) + sorted(ROOT.glob("tests/scenarios/*.json"))


def test_every_commerce_request_and_answer_of_the_shipped_scenarios_follows_adobes_schema():
    # Given every shipped scenario, played as `amazon-channel simulate` plays it (store on 2.4.9)
    with commerce_schema.recorded() as traffic, open("/dev/null", "w") as log:
        for path in SCENARIOS:
            play_file(str(path), log_stream=log)
    # When the Commerce traffic is checked against each schema version
    for version in commerce_schema.VERSIONS:
        figures = commerce_schema.revalidate(traffic, version)
        per_exchange_us = (figures.request_seconds + figures.response_seconds) / max(figures.requests, 1) * 1e6
        print(
            f"\nCommerce schema {version}: {figures.requests} requests and {figures.responses} responses "
            f"validated over {len(SCENARIOS)} scenarios, {len(figures.refused)} refused, "
            f"{len(figures.violations)} violations, {per_exchange_us:.0f} µs per request+response"
        )
        # Then every one of them is valid, and there were some
        assert figures.requests > 0 and figures.responses > 0
        assert figures.refused == [] and figures.violations == []
