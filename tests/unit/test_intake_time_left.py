"""A notification whose read could outlive the invocation is sent back at once, never read late."""

import importlib.util
import sys

from function_env import ROOT, function_environment


def _intake(monkeypatch):
    for name, value in function_environment("order_notification_intake").items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(ROOT / "functions" / "order_notification_intake"))
    spec = importlib.util.spec_from_file_location(
        "intake_app_time_left", ROOT / "functions" / "order_notification_intake" / "app.py"
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "intake_app_time_left", module)
    spec.loader.exec_module(module)
    return module


class _Record:
    body = '{"not": "read"}'

    def __init__(self) -> None:
        self.message_attributes = {
            "read-slot-at": {"stringValue": "1767225600.000"},
            "read-settled": {"stringValue": "1"},
        }


def test_a_read_with_too_little_time_left_is_deferred_not_attempted(monkeypatch):
    app = _intake(monkeypatch)
    sent = []

    class Deferrals:
        def defer(self, body, seconds, attributes):
            sent.append((body, seconds, attributes))
            return seconds

    monkeypatch.setattr(app.runtime, "deferrals", lambda settings: Deferrals())
    monkeypatch.setattr(app.runtime, "read_ports", lambda settings: (_ for _ in ()).throw(AssertionError("read")))
    # Given a notification delivered with 3 s of the invocation left
    outcome = app._read_or_defer(_Record(), "113-0000000-0000001", None, time_left_ms=3_000)
    # Then it goes back to its queue at once, keeping its booked token, and Amazon is not called
    assert outcome.startswith("deferred 1.0s: the invocation's time is nearly up")
    assert sent == [(_Record.body, 1.0, {"read-settled": "1", "read-slot-at": "1767225600.000"})]
