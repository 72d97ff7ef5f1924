"""Connected Amazon stores and their settings, read through Powertools Parameters (DynamoDB).

The stores table holds one item per seller account: `id` = SellerId, `value` = the store's
configuration as JSON (`StoreConfig`: marketplaces, the four order settings, Commerce target).
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.utilities.parameters import DynamoDBProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from ..domain.models import StoreConfig

log = logging.getLogger(__name__)

CACHE_SECONDS = 60


class ParameterStoreDirectory:
    """`StoreDirectory` on the stores table, cached for a minute per warm Lambda."""

    def __init__(self, table_name: str, provider: DynamoDBProvider | None = None):
        self.provider = provider or DynamoDBProvider(table_name=table_name)

    def find(self, seller_id: str, marketplace_id: str) -> StoreConfig | None:
        try:
            raw = self.provider.get(seller_id, transform="json", max_age=CACHE_SECONDS)
        except GetParameterError:
            return None
        if not raw:
            return None
        store = StoreConfig.model_validate(raw)
        return store if marketplace_id in store.marketplace_ids else None

    def connected(self) -> list[StoreConfig]:
        """Every store of the table (a handful of items: one per seller account), read in full.

        An item that is not a valid store is skipped and logged (it cannot be synced).
        """
        stores: list[StoreConfig] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self.provider.table.scan(**kwargs)
            for item in page.get("Items", []):
                try:
                    value = item.get("value")
                    stores.append(
                        StoreConfig.model_validate_json(value)
                        if isinstance(value, str)
                        else StoreConfig.model_validate(value)
                    )
                except ValueError as e:
                    log.warning("store item %s is not a valid store: %s", item.get("id"), type(e).__name__)
            if "LastEvaluatedKey" not in page:
                return stores
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
