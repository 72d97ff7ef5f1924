"""Stories of the SP-API rate budget shared by the channel's concurrently running functions."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from amazon_channel.adapters.rate_budget import DynamoDbRateBudget, InMemoryRateBudget

KEY = "A1SIMSELLER0001#getOrder"


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def dynamodb():
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
        yield client


def test_in_memory_budget_spends_its_burst_then_asks_to_wait():
    clock = Clock()
    budget = InMemoryRateBudget(clock=clock)
    # Given getOrder allows a burst of 3 at 0.5 per second
    assert [budget.acquire(KEY, 0.5, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    # When a fourth order is fetched at once, it must wait 2 s
    assert budget.acquire(KEY, 0.5, 3) == pytest.approx(2.0)
    # Then after 2 s a token is there again, and other operations have their own bucket
    clock.t += 2.0
    assert budget.acquire(KEY, 0.5, 3) == 0.0
    assert budget.acquire("A1SIMSELLER0001#confirmShipment", 2.0, 10) == 0.0


def test_dynamodb_budget_is_one_item_per_seller_and_operation(dynamodb):
    clock = Clock()
    budget = DynamoDbRateBudget("orders", dynamodb, clock=clock)
    # Given a fresh seller, when three getOrder calls are made with burst 3
    assert [budget.acquire(KEY, 0.5, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    # Then a fourth must wait 2 s, and after 1 s only 1 s more
    assert budget.acquire(KEY, 0.5, 3) == pytest.approx(2.0)
    clock.t += 1.0
    assert budget.acquire(KEY, 0.5, 3) == pytest.approx(1.0)
    clock.t += 1.0
    assert budget.acquire(KEY, 0.5, 3) == 0.0
    item = dynamodb.get_item(TableName="orders", Key={"pk": {"S": f"RATE#{KEY}"}, "sk": {"S": "BUDGET"}})["Item"]
    assert float(item["tokens"]["N"]) == pytest.approx(0.0)
    assert float(item["refilled_at"]["N"]) == pytest.approx(clock.t)


def test_two_functions_racing_for_the_last_tokens_never_overspend(dynamodb):
    clock = Clock()
    other = DynamoDbRateBudget("orders", dynamodb, clock=clock)
    other.acquire(KEY, 0.5, 3)  # the bucket exists with 2 tokens left

    class Racing:
        """A DynamoDB client where another function takes a token between our read and our write."""

        def __init__(self, inner):
            self.inner, self.raced = inner, False

        def get_item(self, **kw):
            return self.inner.get_item(**kw)

        def put_item(self, **kw):
            return self.inner.put_item(**kw)

        def update_item(self, **kw):
            if not self.raced:
                self.raced = True
                assert other.acquire(KEY, 0.5, 3) == 0.0
            return self.inner.update_item(**kw)

    mine = DynamoDbRateBudget("orders", Racing(dynamodb), clock=clock)
    # When both take a token at the same moment, the conditional write fails and we retry on fresh state
    assert mine.acquire(KEY, 0.5, 3) == 0.0
    # Then exactly three tokens were spent in all: the next call has to wait
    assert other.acquire(KEY, 0.5, 3) == pytest.approx(2.0)


class AlwaysOvertaken:
    """The DynamoDB client, with another function's write landing before each of ours."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def update_item(self, **kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "overtaken"}}, "UpdateItem")


def test_under_heavy_contention_a_booking_ahead_is_refused_and_a_plain_take_asked_to_wait(dynamodb):
    from amazon_channel.domain.errors import RateBudgetContended

    # Given a budget every write of which another function overtakes
    DynamoDbRateBudget("orders", dynamodb, clock=Clock()).acquire(KEY, 0.5, 30)  # the item exists
    budget = DynamoDbRateBudget("orders", AlwaysOvertaken(dynamodb), clock=Clock(), max_conflicts=3)
    # When a caller books ahead, it is told that nothing was booked (it must not take a wait as its token)
    with pytest.raises(RateBudgetContended):
        budget.book(KEY, 0.5, 30, within=3600.0)
    # And a caller taking a token now is asked to wait a little, nothing booked either
    assert budget.acquire(KEY, 0.5, 30) == 1.0
