"""Exceptions: one class per gRPC status code the server uses, all under AdannsError."""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc


class AdannsError(Exception):
    """A call failed. ``code`` is the gRPC status, ``message`` the server's explanation."""

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        name = self.code.name if self.code is not None else "ERROR"
        return f"{name}: {self.message}"


class InvalidArgument(AdannsError, ValueError):
    """The request is malformed (wrong dimension, bad name, unknown parameter, ...); raised
    before any I/O too when the client can tell (e.g. a 3-D array)."""


class NotFound(AdannsError):
    """The collection, index or snapshot does not exist."""


class AlreadyExists(AdannsError):
    """The name is taken."""


class FailedPrecondition(AdannsError):
    """The collection is not in a state that allows the call (e.g. not calibrated yet)."""


class OutOfRange(AdannsError):
    """No plan fits the budget; the message names the smallest workable one."""


class ResourceExhausted(AdannsError):
    """The server is over a limit (message size, indexes behind the ingest rate): retry later."""


class Unauthenticated(AdannsError):
    """No API key, or an unknown one."""


class PermissionDenied(AdannsError):
    """The API key may not do this (e.g. a read key writing)."""


class Unavailable(AdannsError):
    """The server cannot be reached or is shutting down."""


class DeadlineExceeded(AdannsError):
    """The call took longer than its timeout."""


class Cancelled(AdannsError):
    """The call was cancelled."""


class Internal(AdannsError):
    """The server failed (I/O, corruption): its log says more."""


class BuildFailed(AdannsError):
    """An index build or calibration the client waited for ended "failed" or "cancelled"."""


_BY_CODE: Dict[grpc.StatusCode, Type[AdannsError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.DATA_LOSS: Internal,
}


def from_rpc_error(error: grpc.RpcError) -> AdannsError:
    """The AdannsError subclass for a failed call (sync or asyncio), keeping its message."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else None
    cls = _BY_CODE.get(code, AdannsError) if code is not None else AdannsError
    return cls(details or str(error), code)
