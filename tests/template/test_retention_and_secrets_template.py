"""Buyer data and credentials in the template: no secret values, indexes and archives without
personal data beyond the buyer's name, a daily retention run, an alarm before the LWA secret expires."""

import json
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
PERSONAL = {"buyer_email", "ship_to", "customer_email", "email", "phone", "address", "doc", "details"}


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml_parse((ROOT / "template.yaml").read_text())


def test_no_secret_value_is_in_the_template_so_an_update_never_overwrites_live_credentials(template):
    secrets = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret"}
    assert set(secrets) == {"SpApiCredentialsSecret", "CommerceTokenSecret"}
    for logical_id, secret in secrets.items():
        assert not {"SecretString", "GenerateSecretString"} & set(secret["Properties"]), logical_id


@pytest.mark.parametrize("index", ["OrdersView", "OrdersByStatus"])
def test_the_orders_view_indexes_carry_the_buyers_name_and_nothing_else_personal(template, index):
    indexes = {i["IndexName"]: i for i in template["Resources"]["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]}
    projected = set(indexes[index]["Projection"]["NonKeyAttributes"])
    assert {"buyer_name", "buyer_name_lc"} <= projected  # the view shows and filters by it
    assert not projected & PERSONAL


def test_the_archives_keep_the_channels_events_and_only_the_commerce_events_the_rules_replay(template):
    resources = template["Resources"]
    channel, commerce = json.loads(resources["ChannelEventArchive"]["Properties"]["EventPattern"])["$or"]
    assert channel == {"source": ["amazon-channel"]}  # ids only: kept for replay, export and trace
    consumed = [
        d
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        for d in r["Properties"]["EventPattern"]["detail-type"]
        if isinstance(d, dict)
    ]
    assert sorted(map(json.dumps, commerce["detail-type"])) == sorted(map(json.dumps, consumed))
    partner = json.loads(resources["CommerceEventArchive"]["Properties"]["EventPattern"])
    assert partner["detail-type"] == commerce["detail-type"]


def test_buyer_data_is_removed_daily_after_a_retention_of_at_most_thirty_days(template):
    days = template["Parameters"]["PiiRetentionDays"]
    assert (days["Default"], days["MaxValue"]) == (30, 30)
    function = template["Resources"]["DailyMaintenanceFunction"]["Properties"]
    assert function["Environment"]["Variables"]["PII_RETENTION_DAYS"] == {"Ref": "PiiRetentionDays"}
    schedule = function["Events"]["Daily"]
    assert schedule["Type"] == "ScheduleV2" and schedule["Properties"]["ScheduleExpression"] == "rate(1 day)"
    # the rotation date is read from the secret's tags: never its value (every seller's refresh token)
    actions = [a for s in function["Policies"][0]["Statement"] for a in s["Action"]]
    assert "secretsmanager:GetSecretValue" not in actions and "dynamodb:Scan" not in actions


def test_an_alarm_fires_two_weeks_before_the_lwa_client_secret_expires(template):
    alarm = template["Resources"]["LwaClientSecretExpiringAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "LwaClientSecretDaysLeft",
        14,
        "LessThanThreshold",
    )
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
