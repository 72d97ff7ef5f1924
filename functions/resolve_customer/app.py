"""Placeholder: replaced by the real handler."""


def handler(event, context):
    return event
