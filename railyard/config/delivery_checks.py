"""Cross-field checks of the delivery targets (ECR, PWA on both CDNs) and the build farm."""

from __future__ import annotations

from railyard.config.errors import Problem
from railyard.config.model import StackConfig


def check(c: StackConfig) -> list[Problem]:
    return []
