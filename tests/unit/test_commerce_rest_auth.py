"""Stories of the channel signing in to a merchant's Commerce store as its integration."""

import logging

import pytest

from amazon_channel.adapters.commerce_rest import CommerceRestClient
from amazon_channel.domain.errors import CommerceRejected
from amazon_channel.domain.models import CommerceCustomer
from amazon_channel_local.simulators.commerce import SimulatedCommerce


def client_of(store, credentials=None, **options):
    return CommerceRestClient(
        store.base_url, credentials=lambda: credentials or store.credentials, sleep=lambda s: None, **options
    )


def test_the_channel_signs_every_call_with_the_integrations_four_credentials(store):
    # Given the merchant's integration credentials in the channel's secret
    client = client_of(store)
    # When the channel looks a buyer up (a signed query) and creates the account (a signed JSON POST)
    assert client.find_customer("ana@marketplace.amazon.com", 1) is None
    created = client.create_customer(
        CommerceCustomer(email="ana@marketplace.amazon.com", firstname="Ana", lastname="Lima")
    )
    # Then Commerce accepted both, each with its own nonce
    assert created.id == 1
    assert [status for _, _, status in store.request_log] == [200, 200]


def test_a_refused_signature_is_a_clear_authentication_error_without_secrets(store, caplog):
    # Given a secret whose consumer secret is not the integration's
    wrong = {**store.credentials, "consumer_secret": "w" * 32}
    client = client_of(store, wrong)
    # When the channel reads an order
    with caplog.at_level(logging.DEBUG), pytest.raises(CommerceRejected) as refused:
        client.get_order(1)
    # Then the error names authentication and Commerce's reason
    message = str(refused.value)
    assert "authentication" in message and "(401)" in message
    assert "The signature is invalid. Verify and try again." in message
    # And no credential appears in the error or the logs
    for value in wrong.values():
        assert value not in message and value not in caplog.text


def test_a_secret_missing_a_credential_is_named_before_any_call(store):
    # Given a secret that still has only the old access token
    client = client_of(store, {"access_token": store.credentials["access_token"]})
    # When the channel calls Commerce, Then it says which keys are missing, and nothing was sent
    with pytest.raises(CommerceRejected, match="consumer_key, consumer_secret, access_token_secret"):
        client.get_order(1)
    assert store.request_log == []


def test_bearer_is_refused_by_a_default_store_even_when_the_channel_opts_in(store):
    # Given a store as installed, and a channel set to COMMERCE_AUTH=bearer
    client = client_of(store, auth="bearer")
    # When it reads an order, Then Commerce refuses, and the error says what the store must allow
    with pytest.raises(CommerceRejected, match="standalone Bearer tokens"):
        client.get_order(1)


def test_bearer_works_only_when_both_the_store_allows_it_and_the_channel_opts_in():
    # Given a store whose merchant allowed integration tokens as standalone Bearer tokens
    with SimulatedCommerce(allow_bearer=True) as store:
        store.set_product("MUG-RED", name="Red mug", price="12.00", qty=10)
        # When the channel opts in with the access token alone, Then Commerce answers
        assert (
            client_of(store, {"access_token": store.credentials["access_token"]}, auth="bearer").find_customer(
                "ana@marketplace.amazon.com", 1
            )
            is None
        )
        # And the default channel still signs with OAuth 1.0a, which the store accepts too
        assert client_of(store).find_customer("ana@marketplace.amazon.com", 1) is None


def test_an_unknown_auth_mode_is_refused_when_the_client_is_built(store):
    with pytest.raises(ValueError, match="oauth1, bearer"):
        client_of(store, auth="basic")


def test_a_query_with_a_space_or_a_plus_is_signed_as_magento_reads_it(store):
    # Given a buyer whose Amazon address has a plus, and an order number searched with a space
    client = client_of(store)
    # When the channel searches for both (Magento reads the query with rawurldecode: a "+" stays a plus)
    assert client.find_customer("ana+amazon@marketplace.amazon.com", 1) is None
    assert client.find_order_by_amazon_id("111 0000001") is None
    # Then the store verified both signatures and answered
    assert [status for _, _, status in store.request_log] == [200, 200]


def test_a_route_the_integration_was_not_granted_is_named_with_the_resource_to_grant(store):
    # Given an integration whose merchant left "Orders > Actions > View" unticked
    store.denied_resources.add("Magento_Sales::actions_view")
    # When the channel reads an order
    with pytest.raises(CommerceRejected) as refused:
        client_of(store).get_order(1)
    # Then the error names the resource to grant, not the credentials
    message = str(refused.value)
    assert "Magento_Sales::actions_view" in message and "Grant the integration that resource" in message
    assert "credentials" not in message
