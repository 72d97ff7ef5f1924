"""A function's settings (amazon_channel.settings): read from its environment at cold start, with
a clear error naming what is missing, and only the adapters it declares."""

import pytest

from amazon_channel import runtime
from amazon_channel.settings import AmazonSettings, CommerceSettings, Settings, SettingsError, StoresSettings


class FetchOrderDetails(StoresSettings, AmazonSettings):
    """Like functions/fetch_order_details: Amazon and the stores, no Commerce."""


ENV = {"ORDERS_TABLE": "orders", "STORES_TABLE": "stores", "SP_API_SECRET_ID": "sp-api"}


def test_a_function_reads_only_what_it_declares_and_amazon_s_defaults():
    settings = FetchOrderDetails.from_environment({**ENV, "COMMERCE_BASE_URL": "https://shop.example.com"})
    assert settings.sp_api_endpoint == "https://sellingpartnerapi-na.amazon.com"
    assert settings.sp_api_max_wait_seconds == 20.0
    assert not hasattr(settings, "commerce_base_url")


def test_an_empty_value_is_the_default_as_an_empty_template_parameter_means():
    settings = FetchOrderDetails.from_environment({**ENV, "SP_API_ENDPOINT": "", "LWA_TOKEN_URL": ""})
    assert settings.lwa_token_url == "https://api.amazon.com/auth/o2/token"


def test_what_is_missing_or_wrong_is_named_all_at_once(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "channel-fetch-order-details")
    with pytest.raises(SettingsError) as e:
        FetchOrderDetails.from_environment({"ORDERS_TABLE": "orders", "SP_API_MAX_WAIT_SECONDS": "soon"})
    assert str(e.value).startswith("channel-fetch-order-details (")
    assert "missing environment variable(s) SP_API_SECRET_ID, STORES_TABLE" in str(e.value)
    assert "invalid environment variable SP_API_MAX_WAIT_SECONDS" in str(e.value)


def test_commerce_auth_is_one_of_the_two_ways_commerce_accepts():
    class Commerce(CommerceSettings):
        pass

    env = {"ORDERS_TABLE": "o", "COMMERCE_BASE_URL": "https://shop.example.com", "COMMERCE_SECRET_ID": "c"}
    assert Commerce.from_environment(env).commerce_auth == "oauth1"
    with pytest.raises(SettingsError, match="COMMERCE_AUTH"):
        Commerce.from_environment({**env, "COMMERCE_AUTH": "basic"})


def test_a_port_the_function_does_not_declare_says_what_it_would_need(monkeypatch):
    # Given a function without Commerce settings (its IAM policy has no Commerce secret either)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    ports = runtime.ports(FetchOrderDetails.from_environment(ENV))
    # When a step reaches for the Commerce store, then it is told which variables that would take
    with pytest.raises(runtime.NotConfiguredError, match="no commerce: it needs COMMERCE_BASE_URL, COMMERCE_SECRET_ID"):
        ports.commerce.get_order("1")
    with pytest.raises(runtime.NotConfiguredError, match="no events: it needs EVENT_BUS_NAME"):
        ports.events.publish("FbaOrderShipped", {})
    assert ports.marketplace is not None and ports.stores is not None


def test_a_function_that_only_wakes_workflows_cannot_start_one(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    ports = runtime.ports(Settings.from_environment({"ORDERS_TABLE": "orders"}))
    with pytest.raises(RuntimeError, match="MFN_STATE_MACHINE_ARN"):
        ports.workflows.start("113-0000000-0000001", {})
