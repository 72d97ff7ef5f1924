"""Stories of the per-SKU lease that serializes the channel's moves of a product's threshold."""

import boto3
import pytest
from moto import mock_aws

from amazon_channel.adapters.stock_leases import DynamoDbStockLeases, InMemoryStockLeases, LeaseLost

NOW, LATER, MUCH_LATER = "2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00", "2026-01-01T00:05:00+00:00"


@pytest.fixture(params=["dynamodb", "memory"])
def leases(request):
    if request.param == "memory":
        yield InMemoryStockLeases()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoDbStockLeases("orders", client)


def test_one_function_at_a_time_moves_a_mugs_threshold(leases):
    assert leases.acquire("MUG-RED", "a", NOW, LATER)
    # Then another waits, for that SKU only
    assert not leases.acquire("MUG-RED", "b", NOW, LATER)
    assert leases.acquire("TEA-1KG", "b", NOW, LATER)
    leases.release("MUG-RED", "a")
    assert leases.acquire("MUG-RED", "b", NOW, LATER)


def test_a_crashed_holders_move_waits_on_the_lease_for_the_next_holder(leases):
    # Given a holder wrote its move, then died without giving the lease up
    leases.acquire("MUG-RED", "a", NOW, LATER)
    leases.set_pending("MUG-RED", "a", '{"after": "2"}')
    # When its lease has expired, Then the next holder takes it and finds the move
    assert leases.acquire("MUG-RED", "b", MUCH_LATER, "2026-01-01T00:06:00+00:00")
    assert leases.pending("MUG-RED") == '{"after": "2"}'
    # And the late first holder can no longer write
    with pytest.raises(LeaseLost):
        leases.set_pending("MUG-RED", "a", None)
    leases.set_pending("MUG-RED", "b", None)
    leases.release("MUG-RED", "b")
    assert leases.pending("MUG-RED") is None


def test_giving_the_lease_up_keeps_a_move_in_flight(leases):
    leases.acquire("MUG-RED", "a", NOW, LATER)
    leases.set_pending("MUG-RED", "a", '{"after": "2"}')
    leases.release("MUG-RED", "a")
    assert leases.pending("MUG-RED") == '{"after": "2"}'
