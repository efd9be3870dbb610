"""Invalidating entrypoints on CloudFront and refreshing them on Alibaba CDN."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol


class Cdn(Protocol):
    name: str
    url: str
    """Where the site is served (``https://…``): what ``pwa verify`` fetches."""

    def invalidate(self, paths: Sequence[str]) -> str:
        """Make the edges ask the origin for ``paths`` again; returns the CDN's task id."""
        ...


class CloudFront:
    name = "cloudfront"

    def __init__(self, client, distribution_id: str, url: str):
        self.client = client
        self.distribution_id = distribution_id
        self.url = url.rstrip("/")

    def invalidate(self, paths: Sequence[str]) -> str:
        batch = {
            "Paths": {"Quantity": len(paths), "Items": list(paths)},
            "CallerReference": f"railyard-{uuid.uuid4()}",
        }
        result = self.client.create_invalidation(
            DistributionId=self.distribution_id, InvalidationBatch=batch
        )
        return result["Invalidation"]["Id"]


class AlibabaCdn:
    name = "alibaba-cdn"

    def __init__(self, client, url: str):
        self.client = client
        self.url = url.rstrip("/")

    def invalidate(self, paths: Sequence[str]) -> str:
        from alibabacloud_cdn20180510 import models

        # one URL per line; "File" refreshes exactly these objects, not a directory
        request = models.RefreshObjectCachesRequest(
            object_path="\n".join(self.url + p for p in paths), object_type="File"
        )
        return self.client.refresh_object_caches(request).body.refresh_task_id
