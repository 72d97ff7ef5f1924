"""The orders page's rules, without a stack: who may act, the CSRF token's binding, the search box."""

import pytest

from amazon_channel.domain.errors import InvalidQuery
from amazon_channel.domain.orders_page import (
    CsrfRefused,
    NotAllowed,
    check_csrf,
    csrf_token,
    page_query,
    require_operator,
    require_reader,
    signed_in_user,
)

SELLER = "A1SIMSELLER0001"


def _claims(groups, session="4b7c1f0e-session", name="maria"):
    return {"cognito:username": name, "cognito:groups": groups, "origin_jti": session, "sub": "s-1"}


def test_api_gateway_s_text_form_of_the_groups_claim_is_read_as_groups():
    """Given the claim as API Gateway passes it ("[a b]"), the user is in both groups."""
    user = signed_in_user(_claims("[operators viewers]"))
    assert user.groups == {"operators", "viewers"} and user.can_act


def test_a_viewer_reads_but_may_not_act_and_a_user_in_no_group_may_not_read():
    viewer = signed_in_user(_claims(["viewers"]))
    require_reader(viewer)
    with pytest.raises(NotAllowed, match="operators only"):
        require_operator(viewer)
    with pytest.raises(NotAllowed, match="neither the viewers nor the operators"):
        require_reader(signed_in_user(_claims("")))


def test_a_csrf_token_is_good_only_for_the_session_it_was_served_to():
    """Given two sign-ins of the same merchant, a form of the first is refused in the second."""
    first, second = signed_in_user(_claims("[operators]", "s-one")), signed_in_user(_claims("[operators]", "s-two"))
    check_csrf(first, csrf_token(first))
    for given in (csrf_token(second), "", None):
        with pytest.raises(CsrfRefused):
            check_csrf(first, given)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("113-0000000-0000101", {"amazon_order_id": "113-0000000-0000101"}),
        ("000000042", {"commerce_order_number": "000000042"}),
        ("ana@example.com", {}),  # matched on the rows read (the email is not in the index)
    ],
)
def test_the_search_box_takes_an_amazon_number_a_commerce_number_or_an_email(text, expected):
    query, filters = page_query({"text": text}, [SELLER])
    found = {k: v for k, v in query.model_dump().items() if k in ("amazon_order_id", "commerce_order_number") and v}
    assert found == expected and filters == {"text": text, "store": SELLER}


def test_a_store_that_is_not_connected_is_refused_with_the_filter_named():
    with pytest.raises(InvalidQuery) as refused:
        page_query({"store": "A2OTHER"}, [SELLER])
    assert refused.value.parameter == "store"
