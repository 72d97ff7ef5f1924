"""Stories of who may call a merchant's Commerce store: its integration, signing each request with
OAuth 1.0a as Magento verifies it (Framework `Oauth::validateAccessTokenRequest`), and a Bearer token
only where the merchant allowed it."""

import json
import time

import pytest
import urllib3

from amazon_channel_local.simulators.commerce import SimulatedCommerce, signature_valid

HTTP = urllib3.PoolManager(retries=False)


def get(store, path, authorization):
    resp = HTTP.request("GET", f"{store.base_url}/rest/V1{path}", headers={"Authorization": authorization})
    return resp.status, json.loads(resp.data)


def signed(store, path, **credentials):
    url = f"{store.base_url}/rest/V1{path}"
    return store.sign("GET", url, {**store.credentials, **credentials})


def with_param(authorization: str, name: str, value: str) -> str:
    """The same header with one oauth_* parameter's value replaced."""
    head, _, rest = authorization.partition(f'{name}="')
    return f'{head}{name}="{value}"{rest[rest.index(chr(34)) + 1 :]}'


def test_a_request_signed_by_the_integration_is_answered(store):
    # Given the store's integration, When it signs a search for a buyer's orders
    url = f"{store.base_url}/rest/V1/orders?searchCriteria%5BpageSize%5D=1&searchCriteria%5BcurrentPage%5D=1"
    resp = HTTP.request("GET", url, headers={"Authorization": store.sign("GET", url)})
    # Then Commerce answers it
    assert resp.status == 200
    assert json.loads(resp.data)["items"] == []


def test_the_query_string_is_signed(store):
    # Given a request signed for one query, When the query is changed on the way
    url = f"{store.base_url}/rest/V1/orders?searchCriteria%5BpageSize%5D=1"
    authorization = store.sign("GET", url)
    resp = HTTP.request("GET", url.replace("pageSize%5D=1", "pageSize%5D=50"), headers={"Authorization": authorization})
    # Then Commerce refuses it: the signature no longer matches
    assert (resp.status, json.loads(resp.data)["message"]) == (401, "The signature is invalid. Verify and try again.")


@pytest.mark.parametrize(
    "story, change, message",
    [
        (
            "a tampered signature",
            lambda a, s: with_param(a, "oauth_signature", "AAAA"),
            "The signature is invalid. Verify and try again.",
        ),
        (
            "a wrong consumer secret",
            lambda a, s: signed(s, "/orders/1", consumer_secret="x" * 32),
            "The signature is invalid. Verify and try again.",
        ),
        (
            "a wrong token secret",
            lambda a, s: signed(s, "/orders/1", access_token_secret="x" * 32),
            "The signature is invalid. Verify and try again.",
        ),
        (
            "an unknown consumer key",
            lambda a, s: signed(s, "/orders/1", consumer_key="k" * 32),
            "A consumer having the specified key does not exist",
        ),
        (
            "an unknown access token",
            lambda a, s: signed(s, "/orders/1", access_token="t" * 32),
            "Specified token does not exist",
        ),
        (
            "a timestamp an hour ahead",
            lambda a, s: with_param(a, "oauth_timestamp", str(int(time.time()) + 3600)),
            "An error occurred validating the nonce",
        ),
    ],
)
def test_a_request_not_signed_by_the_integration_is_refused(store, story, change, message):
    # Given a store, When a request comes with {story}
    status, body = get(store, "/orders/1", change(signed(store, "/orders/1"), store))
    # Then Commerce refuses it with 401 and Magento's message
    assert (status, body["message"]) == (401, message), story


def test_a_replayed_request_is_refused(store):
    # Given a request the store answered
    authorization = signed(store, "/orders/1")
    assert get(store, "/orders/1", authorization)[0] == 404  # no order 1 yet: authenticated, then not found
    # When the very same request (same nonce) is sent again
    status, body = get(store, "/orders/1", authorization)
    # Then Commerce refuses it: the nonce was used by this consumer
    assert (status, body["message"], body["parameters"]) == (
        401,
        "The nonce is already being used by the consumer with ID %1",
        [1],
    )


def test_an_old_timestamp_with_a_fresh_nonce_is_accepted_as_magento_does(store):
    # Given a request signed an hour ago, never sent before (Magento's Nonce\Generator refuses only
    # timestamps from the future; replays are refused by the stored nonce)
    from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

    c = store.credentials
    url = f"{store.base_url}/rest/V1/orders/1"
    client = Client(
        c["consumer_key"],
        client_secret=c["consumer_secret"],
        resource_owner_key=c["access_token"],
        resource_owner_secret=c["access_token_secret"],
        signature_method=SIGNATURE_HMAC_SHA256,
        timestamp=str(int(time.time()) - 3600),
    )
    # When it is sent, Then it is authenticated (and the order is simply not there)
    assert get(store, "/orders/1", client.sign(url)[1]["Authorization"])[0] == 404


def test_another_integrations_token_is_not_this_consumers(store):
    # Given a second integration on the store (another app)
    other = {
        "consumer_key": "o" * 32,
        "consumer_secret": "p" * 32,
        "access_token": "q" * 32,
        "access_token_secret": "r" * 32,
    }
    store.add_integration(other)
    # When the channel's consumer key comes with the other app's token
    status, body = get(store, "/orders/1", signed(store, "/orders/1", access_token=other["access_token"]))
    # Then Commerce refuses it
    assert (status, body["message"]) == (401, "Token is not associated with the specified consumer")
    # And the other app, signing with its own four, is let in
    assert get(store, "/orders/1", store.sign("GET", f"{store.base_url}/rest/V1/orders/1", other))[0] == 404


def test_a_signature_method_magento_does_not_verify_is_refused(store):
    # Given a request signed with PLAINTEXT, When it reaches the store
    status, body = get(
        store, "/orders/1", with_param(signed(store, "/orders/1"), "oauth_signature_method", "PLAINTEXT")
    )
    # Then Commerce answers 400 naming the method
    assert (status, body["message"], body["parameters"]) == (400, "Signature method %1 is not supported", ["PLAINTEXT"])


def test_a_missing_oauth_parameter_is_named(store):
    # Given a signed request without its nonce
    authorization = signed(store, "/orders/1")
    start = authorization.index("oauth_nonce=")
    without_nonce = authorization[:start] + authorization[authorization.index(",", start) + 1 :].lstrip()
    # When it reaches the store, Then Commerce says which parameter is required
    status, body = get(store, "/orders/1", without_nonce)
    assert (status, body["parameters"]) == (400, {"fieldName": "oauth_nonce"})


def test_no_authorization_at_all_is_not_authorized(store):
    status, body = get(store, "/orders/1", "")
    assert (status, body["message"], body["parameters"]) == (
        401,
        "The consumer isn't authorized to access %resources.",
        {"resources": "Magento_Sales::actions_view"},
    )


def test_a_bearer_token_is_refused_on_a_default_store(store):
    # Given a store as installed (integration tokens are not standalone Bearer tokens since 2.4.4)
    # When the integration's access token is sent alone
    status, body = get(store, "/orders/1", f"Bearer {store.credentials['access_token']}")
    # Then Commerce does not authorize it
    assert (status, body["message"]) == (401, "The consumer isn't authorized to access %resources.")


def test_a_bearer_token_is_accepted_where_the_merchant_allows_it():
    # Given a store whose merchant set "Allow OAuth Access Tokens to be used as standalone Bearer tokens"
    with SimulatedCommerce(allow_bearer=True) as store:
        # When the integration's access token is sent alone, Then it is let in
        assert get(store, "/orders/1", f"Bearer {store.credentials['access_token']}")[0] == 404
        # And any other token still is not
        assert get(store, "/orders/1", "Bearer " + "z" * 32)[0] == 401


# RFC 5849 section 1.2 ("Example"), quoted: the printer's request for Jane's photo, with the client
# credentials dpf43f3p2l4k3l03 / kd94hf93k423kf44 and the token credentials nnch734d00sl2jdk /
# pfkkdhi9sl3r4s00.
RFC5849_1_2 = {
    "request": "GET http://photos.example.net/photos?file=vacation.jpg&size=original",
    "authorization": 'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", '
    'oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", '
    'oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"',
    "client_secret": "kd94hf93k423kf44",
    "token_secret": "pfkkdhi9sl3r4s00",
}


def test_the_rfc_example_request_is_signed_and_verified_as_the_spec_says():
    # Given the request of RFC 5849's example
    method, url = RFC5849_1_2["request"].split(" ")
    # When oauthlib builds its signature base string and HMAC-SHA1 signature from the request and
    # the header's parameters (its Client adds oauth_version, which the example leaves out)
    from oauthlib.oauth1.rfc5849 import signature

    params = [
        (k, v)
        for k, v in signature.collect_parameters(
            uri_query=url.split("?")[1], headers={"Authorization": RFC5849_1_2["authorization"]}
        )
    ]
    base = signature.signature_base_string(
        method, signature.base_string_uri(url), signature.normalize_parameters(params)
    )
    # Then the signature is the RFC's
    from oauthlib.oauth1 import Client

    credentials = Client(
        "dpf43f3p2l4k3l03",
        client_secret=RFC5849_1_2["client_secret"],
        resource_owner_key="nnch734d00sl2jdk",
        resource_owner_secret=RFC5849_1_2["token_secret"],
    )
    assert signature.sign_hmac_sha1_with_client(base, credentials) == "MdpQcU8iPSUjWoN/UDMsK2sui9I="
    # And the simulated store's verification accepts the RFC's header, and not a changed query
    assert signature_valid(
        method, url, RFC5849_1_2["authorization"], RFC5849_1_2["client_secret"], RFC5849_1_2["token_secret"]
    )
    assert not signature_valid(
        method,
        url.replace("original", "small"),
        RFC5849_1_2["authorization"],
        RFC5849_1_2["client_secret"],
        RFC5849_1_2["token_secret"],
    )
