"""Progress for long calls: True draws a bar (tqdm when installed, else a line on stderr), a
callable gets (done, total) after each step."""

from __future__ import annotations

import sys
import time
from typing import Callable, Iterable, Iterator, Optional, Union

ProgressArg = Union[bool, None, Callable[[int, int], None]]


class _StderrLine:
    """A one-line "desc: done/total (pct)" counter (only the percentage for waits, whose total
    is thousandths), redrawn at most every 0.2 s."""

    def __init__(self, total: int, desc: str) -> None:
        self._total = total
        self._desc = desc
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        percent = 100.0 * done / total if total else 100.0
        end = "\n" if done >= total else ""
        counts = f"{percent:.0f}%"
        if self._desc == "upsert":
            counts = f"{done}/{total} ({counts})"
        sys.stderr.write(f"\r{self._desc}: {counts}{end}")
        sys.stderr.flush()


class _Tqdm:
    def __init__(self, total: int, desc: str) -> None:
        from tqdm import tqdm  # type: ignore[import]
        self._bar = tqdm(total=total, desc=desc, unit="vec" if desc == "upsert" else "")
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        self._bar.update(done - self._done)
        self._done = done
        if done >= total:
            self._bar.close()


def reporter(progress: ProgressArg, total: int,
             desc: str) -> Optional[Callable[[int, int], None]]:
    """What to call with (done, total): None when `progress` is falsy."""
    if not progress:
        return None
    if callable(progress):
        return progress
    try:
        return _Tqdm(total, desc)
    except ImportError:
        return _StderrLine(total, desc)


def counted(messages: Iterable[bytes], per_message: int, total: int,
            report: Optional[Callable[[int, int], None]]) -> Iterator[bytes]:
    """The upsert messages, reporting the vectors handed to gRPC after each."""
    sent = 0
    for message in messages:
        yield message
        sent = min(total, sent + per_message)
        if report:
            report(sent, total)
