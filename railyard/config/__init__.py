"""Typed, validated stack config.

``StackConfig`` (model.py) is the single source of truth for every config key; ``load`` turns
raw config values into a ``StackConfig`` or raises ``ConfigError`` listing every problem, each
naming the key and the fix, before the program registers a single resource.
"""

from railyard.config.errors import ConfigError, Problem
from railyard.config.load import load
from railyard.config.model import FIELDS_BY_KEY, PROJECT, SECRET_KEYS, StackConfig

__all__ = [
    "FIELDS_BY_KEY",
    "PROJECT",
    "SECRET_KEYS",
    "ConfigError",
    "Problem",
    "StackConfig",
    "load",
]
