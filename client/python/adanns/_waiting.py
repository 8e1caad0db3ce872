"""When a background build or calibration the client waits for is over (shared by both clients)."""

from __future__ import annotations

from typing import Iterable, Tuple

from adanns._errors import BuildFailed
from adanns.v1 import adanns_pb2 as pb2

POLL_SECONDS = 0.25


def builds_progress(info: "pb2.CollectionInfo", names: Iterable[str]) -> Tuple[bool, float]:
    """(all of `names` are ready, their mean progress); BuildFailed when one failed or was
    cancelled, or vanished (dropped)."""
    by_name = {index.name: index for index in info.indexes}
    names = list(names)
    progress = 0.0
    done = True
    for name in names:
        index = by_name.get(name)
        if index is None:
            raise BuildFailed(f"index '{name}' of '{info.name}' was dropped while building")
        if index.state in ("failed", "cancelled"):
            raise BuildFailed(f"index '{name}' of '{info.name}' {index.state}: {index.error}")
        done &= index.state == "ready"
        progress += 1.0 if index.state == "ready" else index.progress
    return done, progress / max(1, len(names))


def calibration_progress(info: "pb2.CalibrationInfo", collection: str) -> Tuple[bool, float]:
    """(the calibration is over and ready, its progress); BuildFailed when it failed."""
    if info.state in ("failed", "cancelled"):
        raise BuildFailed(f"calibration of '{collection}' {info.state}: {info.error}")
    return info.state == "ready", 1.0 if info.state == "ready" else info.progress
