"""The config file: `load_config(path) -> Config`, or `ConfigError` listing every problem.

The schema is in `schema.py`, the typed result in `model.py`, the rules between keys and the
building of the result in `loader.py`.
"""

from .loader import ConfigError, load_config
from .model import Config

__all__ = ["Config", "ConfigError", "load_config"]
