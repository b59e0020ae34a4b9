"""FreeSWITCH stand-in speaking the real ESL wire protocol over TCP, with scripted callers.

See docs/internals.md (section ``sim``) for the contract.
"""

from ._legs import Outside, Phone
from ._time import ScaledClock
from .core import Simulator
from .session import CallerScript, SimCall

__all__ = ["CallerScript", "Outside", "Phone", "ScaledClock", "SimCall", "Simulator"]
