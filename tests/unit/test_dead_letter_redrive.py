"""The orders page's Redrive: a dead-letter queue's messages go back to their queue, once each."""

import boto3
from moto import mock_aws

from amazon_channel.adapters.orders_page_aws import SqsDeadLetters


class ParkedAgainAtOnce:
    """SQS, with an intake that parks a bad notification in the dead-letter queue as soon as it arrives."""

    def __init__(self, sqs, dlq: str, source: str):
        self.sqs, self.dlq, self.source = sqs, dlq, source

    def __getattr__(self, name):
        return getattr(self.sqs, name)

    def send_message(self, QueueUrl, MessageBody, **kwargs):
        self.sqs.send_message(QueueUrl=QueueUrl, MessageBody=MessageBody, **kwargs)
        if QueueUrl == self.source:
            self.sqs.send_message(QueueUrl=self.dlq, MessageBody=MessageBody, **kwargs)


def test_a_redrive_of_notifications_still_bad_moves_each_once_and_ends():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="notifications-dlq")["QueueUrl"]
        source = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        # Given two notifications parked as bad input
        for body in ("not json", '{"NotificationType": "ORDER_CHANGE"}'):
            sqs.send_message(
                QueueUrl=dlq,
                MessageBody=body,
                MessageAttributes={"reason": {"DataType": "String", "StringValue": "not a notification"}},
            )
        dead_letters = SqsDeadLetters({"notifications": (dlq, source)}, ParkedAgainAtOnce(sqs, dlq, source), None)
        # When the operator redrives them, and the intake parks them again at once
        moved = dead_letters.redrive("notifications")
        # Then each was moved once, the redrive ended, and they wait in the dead-letter queue again
        assert moved == 2
        assert dead_letters.depth("notifications") == 2
