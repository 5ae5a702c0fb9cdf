"""Restored instances kept in memory between transactions, so the next step need not restore them.

Restoring an instance from its JSON state costs about as much as running a step. When a
step is saved, the live object is kept here with the exact compressed state and model
version it was saved with. The next load takes it only if the row still holds those very
bytes (compared, not assumed): a step rolled back, a change made by another process or
host, or another database all simply miss and restore from the row. An instance is taken
out while a transaction uses it, so no two transactions share one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..engine import ProcessInstance

LIMIT = 512
"""Instances kept per process (a few tens of KB each), least recently saved dropped first."""


@dataclass(frozen=True)
class LiveInstance:
    """An instance as it was saved: its compressed state, model version, and projections."""

    state: bytes
    model_sha256: str
    instance: ProcessInstance
    projected: Any


_kept: OrderedDict[int, LiveInstance] = OrderedDict()
_lock = threading.Lock()


def take(row_id: int, state: bytes, model_sha256: str) -> LiveInstance | None:
    """The kept instance of a row if the row holds exactly the state it was saved with."""
    with _lock:
        live = _kept.pop(row_id, None)
    if live is None or live.state != state or live.model_sha256 != model_sha256:
        return None
    return live


def keep(row_id: int, live: LiveInstance) -> None:
    """Keep the instance just saved for the row (its transaction may still roll back: `take` checks)."""
    with _lock:
        _kept[row_id] = live
        _kept.move_to_end(row_id)
        while len(_kept) > LIMIT:
            _kept.popitem(last=False)
