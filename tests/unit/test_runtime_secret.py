"""A store's credentials secret that is not a JSON object is named, not a crash deep in a client."""

import pytest

from amazon_channel import runtime


class _Provider:
    def __init__(self, value):
        self.value = value

    def get(self, secret_id, transform=None, max_age=None):
        return self.value


@pytest.mark.parametrize("value", [["client_id", "client_secret"], "Atzr|token-alone"])
def test_a_secret_that_is_not_a_json_object_is_named_at_once(monkeypatch, value):
    # Given the SP-API secret saved as a list or a bare token instead of a JSON object
    monkeypatch.setattr(runtime, "_secret", lambda secret_id, endpoint: _Provider(value))
    # When a client reads its credentials, Then the error names the secret
    with pytest.raises(RuntimeError, match="secret amazon-channel/sp-api is not a JSON object"):
        runtime.secret("amazon-channel/sp-api")


def test_a_json_object_secret_is_read_as_it_is(monkeypatch):
    monkeypatch.setattr(runtime, "_secret", lambda secret_id, endpoint: _Provider({"client_id": "c"}))
    assert runtime.secret("amazon-channel/sp-api") == {"client_id": "c"}
