"""The small interfaces the domain talks to. Adapters implement them; tests swap them.

Nothing here imports boto3 or an HTTP library.
"""

from __future__ import annotations

from typing import Any, Protocol

from .models import (
    AmazonOrder,
    ChannelOrder,
    CommerceCustomer,
    CommerceOrderDraft,
    CommerceOrderRef,
    CommerceShipment,
    HistoryEntry,
    PackageConfirmation,
    StoreConfig,
)


class OrderStore(Protocol):
    """Channel order state, versioned, with an append-only history."""

    def get(self, amazon_order_id: str) -> ChannelOrder | None: ...

    def put_new(self, order: ChannelOrder, history: list[HistoryEntry]) -> bool:
        """Create the order if it does not exist. False when it already existed."""

    def save(self, order: ChannelOrder, history: list[HistoryEntry]) -> None:
        """Write `order` if its stored version is still `order.version - 1`.

        Raises `VersionConflict` otherwise. History entries are appended in the same transaction.
        """

    def append_history(self, amazon_order_id: str, entries: list[HistoryEntry]) -> None: ...

    def history(self, amazon_order_id: str) -> list[HistoryEntry]: ...


class StoreDirectory(Protocol):
    """The connected Amazon stores and their settings."""

    def find(self, seller_id: str, marketplace_id: str) -> StoreConfig | None: ...


class Marketplace(Protocol):
    """Amazon, seen through the Selling Partner API."""

    def get_order(self, seller_id: str, amazon_order_id: str) -> AmazonOrder: ...

    def confirm_shipment(self, seller_id: str, confirmation: PackageConfirmation) -> str:
        """Confirm one package. Returns Amazon's request id."""


class CommerceStore(Protocol):
    """Adobe Commerce, seen through its REST API."""

    def find_customer(self, email: str, website_id: int) -> CommerceCustomer | None: ...

    def create_customer(self, customer: CommerceCustomer) -> CommerceCustomer:
        """Raises `CustomerAlreadyExists` when Commerce already has that email."""

    def find_order_by_amazon_id(self, amazon_order_id: str) -> CommerceOrderRef | None: ...

    def create_order(self, draft: CommerceOrderDraft) -> CommerceOrderRef:
        """Create the order with Amazon's prices, invoiced (paid on Amazon), no emails."""

    def ship_order(self, order_id: int, shipment: CommerceShipment) -> int:
        """Create a shipment (used for FBA orders Amazon already shipped). Returns its id."""

    def get_order(self, order_id: int) -> CommerceOrderRef: ...

    def get_shipment(self, shipment_id: int) -> CommerceShipment: ...

    def add_comment(self, order_id: int, comment: str, status: str | None = None) -> None: ...


class EventPublisher(Protocol):
    """The channel's own event bus."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class WorkflowStarter(Protocol):
    """Starts and wakes the merchant-fulfilled workflow."""

    def start(self, amazon_order_id: str, payload: dict[str, Any]) -> bool:
        """Start the order's workflow. False when it was already started (a no-op)."""

    def wake(self, task_token: str, output: dict[str, Any]) -> bool:
        """Resume a waiting workflow. False when the token was already used or expired."""


class NotificationParking(Protocol):
    """Where a message that can never succeed is parked with its reason, for an operator."""

    def park(self, body: str, reason: str, source: str) -> None: ...
