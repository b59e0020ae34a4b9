"""The config file: `load_config(path) -> Config`, or `ConfigError` listing every problem.

Each key is declared once, on a field of the typed result in `model.py` (its type, range and
default); `schema.py` assembles the file's tables from them; the rules between keys and the
building of the result are in `loader.py`.
"""

from .loader import ConfigError, load_config
from .model import Config

__all__ = ["Config", "ConfigError", "load_config"]
