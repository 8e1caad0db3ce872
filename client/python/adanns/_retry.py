"""Retries of idempotent calls on UNAVAILABLE (a server restarting, a failover), as the C++
client does: exponential backoff with jitter, bounded in attempts and in time.

Retried: search, search_batch, get, delete, upsert (the whole stream again: upserts by id are
idempotent), set_default_budget and the describe/list calls. Never retried: create_collection,
drop_collection, build_index, drop_index, calibrate, snapshot. Each retry is logged at DEBUG on
the "adanns" logger.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterator, Optional, TypeVar

import grpc

from adanns._errors import from_rpc_error

T = TypeVar("T")
_log = logging.getLogger("adanns")


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts`: attempts of one call, the first included (1: no retries). Waits start at
    `initial_backoff` seconds and grow `multiplier` times per retry up to `max_backoff`, each drawn
    from [base / 2, base]. No retry starts later than `max_retry_time` seconds after the first
    attempt (0: no retries), nor after the call's timeout. Defaults: 20 attempts, 50 ms, x2, 1 s,
    10 s (a restart, or a failover after a 5 s lease expires)."""

    max_attempts: int = 20
    initial_backoff: float = 0.05
    multiplier: float = 2.0
    max_backoff: float = 1.0
    max_retry_time: float = 10.0

    def waits(self, rng: Optional[random.Random] = None) -> Iterator[float]:
        """The waits between attempts, in seconds (endless; the caller bounds them)."""
        rng = rng or random.Random()
        cap = max(self.max_backoff, 0.001)
        base = min(max(self.initial_backoff, 0.001), cap)
        while True:
            yield rng.uniform(base / 2, base)
            base = min(base * max(self.multiplier, 1.0), cap)

    def channel_options(self) -> list:
        """Reconnect about as often as the retries try (gRPC's default backoff reaches 120 s), on
        a subchannel of the client's own."""
        return [("grpc.initial_reconnect_backoff_ms", max(1, int(self.initial_backoff * 1000))),
                ("grpc.max_reconnect_backoff_ms", max(1, int(self.max_backoff * 1000))),
                ("grpc.use_local_subchannel_pool", 1)]


class _Attempts:
    """The bookkeeping both call helpers share: deadlines, and whether to retry after an error."""

    def __init__(self, policy: RetryPolicy, timeout: Optional[float]) -> None:
        start = time.monotonic()
        self.policy = policy
        self.deadline = None if timeout is None else start + timeout
        self.retry_end = start + policy.max_retry_time
        self.count = 0
        self._waits = policy.waits()

    def timeout(self) -> Optional[float]:
        """What is left of the call's timeout for the next attempt."""
        self.count += 1
        return None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)

    def wait_or_raise(self, error: grpc.RpcError, idempotent: bool) -> float:
        """The wait before retrying after `error`; raises the AdannsError when not retrying."""
        code = error.code() if hasattr(error, "code") else None
        if not idempotent or code != grpc.StatusCode.UNAVAILABLE:
            raise from_rpc_error(error) from None
        wait = next(self._waits)
        now = time.monotonic()
        out_of_attempts = self.count >= self.policy.max_attempts
        out_of_time = now + wait > self.retry_end or (
            self.deadline is not None and now + wait >= self.deadline)
        if out_of_attempts or out_of_time:
            final = from_rpc_error(error)
            if self.count > 1:
                spent = "attempts" if out_of_attempts else "time"
                raise type(final)(f"{final.message} (gave up after {self.count} attempts: "
                                  f"{spent} for retries spent)", final.code) from None
            raise final from None
        _log.debug("attempt %d failed with UNAVAILABLE (%s); retrying in %.0f ms", self.count,
                   error.details() if hasattr(error, "details") else error, wait * 1000)
        return wait


def channel_wait(channel: grpc.Channel) -> Callable[[float], None]:
    """A wait that watches `channel` meanwhile: a failed fail-fast call leaves nothing polling it,
    so its reconnection would only be noticed by gRPC's 5 s backup poller. The wait still lasts
    its whole length, so a server answering UNAVAILABLE is not retried in a loop."""
    def wait(seconds: float) -> None:
        end = time.monotonic() + seconds
        ready = grpc.channel_ready_future(channel)
        try:
            ready.result(timeout=seconds)
        except grpc.FutureTimeoutError:
            ready.cancel()
        time.sleep(max(0.0, end - time.monotonic()))
    return wait


def call(policy: RetryPolicy, attempt: Callable[[Optional[float]], T], timeout: Optional[float],
         idempotent: bool, wait: Callable[[float], None] = time.sleep) -> T:
    """attempt(timeout left) until it succeeds or is not to be retried; gRPC errors are raised as
    AdannsError."""
    attempts = _Attempts(policy, timeout)
    while True:
        try:
            return attempt(attempts.timeout())
        except grpc.RpcError as error:
            wait(attempts.wait_or_raise(error, idempotent))


async def call_async(policy: RetryPolicy,
                     attempt: Callable[[Optional[float]], Awaitable[Any]],
                     timeout: Optional[float], idempotent: bool, channel: Any = None) -> Any:
    """call() for coroutines (grpc.aio); waits watch `channel` (a grpc.aio.Channel) if given."""
    attempts = _Attempts(policy, timeout)
    while True:
        try:
            return await attempt(attempts.timeout())
        except grpc.RpcError as error:
            seconds = attempts.wait_or_raise(error, idempotent)
            end = time.monotonic() + seconds
            if channel is not None:
                try:
                    await asyncio.wait_for(channel.channel_ready(), seconds)
                except asyncio.TimeoutError:
                    pass
            await asyncio.sleep(max(0.0, end - time.monotonic()))


__all__ = ["RetryPolicy", "call", "call_async", "channel_wait"]
