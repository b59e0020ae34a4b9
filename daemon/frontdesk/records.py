"""The store as the calls use it: what a call, the queue and the callbacks record or read
while a patient may be on the line.

`records(Store.call_started, uuid, ...)` runs that operation of the store with its own typed
arguments (checked like a direct call). A store that fails never stops a call: writes are
queued (the store keeps them while the database cannot take them); an operation the store
refuses or cannot answer now is logged and gives None, and the patient is still served.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from frontdesk.store import Store, StoreClosed, StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")


class Records:
    """`store` on a call's path, logging to `log` (bound to the call, when there is one)."""

    def __init__(self, store: Store, log: Any) -> None:
        self.store = store
        self.log = log
        """Where the store's problems are logged: a call's own log, for its records."""

    def bound(self, **context: Any) -> Records:
        """The same store, logging with `context` (a call's uuid) bound."""
        return Records(self.store, self.log.bind(**context))

    def __call__(
        self,
        operation: Callable[Concatenate[Store, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T | None:
        """`operation(store, *args, **kwargs)`; None when the store could not do it."""
        try:
            return operation(self.store, *args, **kwargs)
        except StoreClosed:  # stopping: a call cut late; the next start marks it interrupted
            self.log.warning("store.closed_write_dropped", operation=operation.__name__)
        except StoreUnavailable as error:  # logged by the store when it began
            self.log.warning(
                "store.unavailable", operation=operation.__name__, problem=str(error)
            )
        except Exception:
            self.log.exception("store.write_failed", operation=operation.__name__)
        return None
