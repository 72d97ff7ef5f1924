"""Test setup: both import roots on sys.path, fake AWS credentials, a fixed region."""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / "layers" / "channel", ROOT / "local"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AmazonChannel")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "amazon-channel")
# Every simulated Commerce checks its own answers against Adobe's schema during the tests
os.environ.setdefault("SIM_COMMERCE_VALIDATE_RESPONSES", "1")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def commerce_answers_follow_adobes_schema():
    """A simulated Commerce answer outside Adobe's schema fails the test that caused it."""
    from amazon_channel_local.simulators import commerce_schema

    commerce_schema.take_violations()
    yield
    violations = commerce_schema.take_violations()
    assert not violations, "The simulated Commerce answered outside Adobe's schema:\n" + "\n".join(violations)


@pytest.fixture
def events():
    """The Adobe I/O events the simulated Commerce store sent."""
    return []


@pytest.fixture
def store(events):
    """A simulated Commerce store with two products, for the Commerce simulator and client stories."""
    from amazon_channel_local.simulators.commerce import SimulatedCommerce

    sim = SimulatedCommerce(on_event=events.append).start()
    sim.set_product("MUG-RED", name="Red mug", price="12.00", qty=10)
    sim.set_product("TEA-1KG", name="Tea 1kg", price="30.00", qty=5)
    yield sim
    sim.stop()


@pytest.fixture
def fresh_token_cache():
    """No LWA token cached from another test's simulated Amazon."""
    from amazon_channel.adapters import sp_api

    sp_api.clear_token_cache()
    yield
    sp_api.clear_token_cache()


@pytest.fixture
def amazon():
    """A simulated Amazon (SP-API and LWA) on 127.0.0.1."""
    from amazon_channel_local.simulators.amazon import SimulatedAmazon

    sim = SimulatedAmazon().start()
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def the_machines_clock_between_stories():
    """Each story starts on the machine's clock: a stack's simulated clock, handed to this process's
    `amazon_channel.domain.clock` by the embedded stack, never leaks into the next story (a lease
    would seem to expire at once)."""
    from amazon_channel.domain import clock

    before = clock.source()
    yield
    if clock.source() is not before and getattr(clock.source(), "simulated", False):
        clock.use(clock.WallClock())


# -- the fault suite's figures (tests/faults/conftest.py), from this process or a pytest-xdist worker
@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    if figures := getattr(node, "workeroutput", {}).get("fault_figures"):
        node.config.fault_figures = json.loads(figures)


def pytest_terminal_summary(terminalreporter, config):
    report = getattr(config, "fault_figures", None)
    if report is None:
        return
    terminalreporter.write_sep("-", "fault injection figures")
    terminalreporter.write_line(json.dumps(report, indent=1))
    if path := os.environ.get("FAULT_REPORT"):
        Path(path).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
