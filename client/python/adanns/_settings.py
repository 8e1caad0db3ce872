"""Connection settings both clients resolve the same way."""

from __future__ import annotations

import os
from typing import Any, List, Optional, Tuple, Union

import grpc

from adanns._retry import RetryPolicy

DEFAULT_ADDRESS = "127.0.0.1:50051"
# The server's default --max_message_bytes; messages the client builds stay well under it.
MAX_MESSAGE_BYTES = 64 << 20
UPSERT_MESSAGE_BYTES = 4_000_000  # as the CLI: one durable commit per ~4 MB
UPSERT_METHOD = "/adanns.v1.Adanns/Upsert"


class Settings:
    """`address` None: $ADANNS_SERVER, else 127.0.0.1:50051. `api_key` None: $ADANNS_API_KEY,
    else no key (sent as "authorization: Bearer KEY"). `tls_ca`: a PEM file path or its bytes
    (TLS checked against that CA); None: plaintext. `timeout`: seconds per call (its retries
    included), None = none. `retry`: retries of idempotent calls on UNAVAILABLE; None: the
    defaults of RetryPolicy, RetryPolicy(max_attempts=1): none."""

    def __init__(self, address: Optional[str], api_key: Optional[str],
                 tls_ca: Union[str, bytes, None], timeout: Optional[float],
                 retry: Optional[RetryPolicy] = None) -> None:
        self.address = address or os.environ.get("ADANNS_SERVER") or DEFAULT_ADDRESS
        key = api_key if api_key is not None else os.environ.get("ADANNS_API_KEY", "")
        self.metadata: Optional[Tuple[Tuple[str, str], ...]] = (
            (("authorization", "Bearer " + key),) if key else None)
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.credentials: Optional[grpc.ChannelCredentials] = None
        if tls_ca is not None:
            pem = tls_ca if isinstance(tls_ca, bytes) else open(tls_ca, "rb").read()
            self.credentials = grpc.ssl_channel_credentials(root_certificates=pem)
        self.options: List[Tuple[str, int]] = [
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            *self.retry.channel_options()]

    def open_channel(self, channels: Any) -> Any:
        """A channel from `channels` (the grpc or the grpc.aio module) with these settings."""
        if self.credentials is not None:
            return channels.secure_channel(self.address, self.credentials, options=self.options)
        return channels.insecure_channel(self.address, options=self.options)

    def call_kwargs(self) -> dict:
        return {"timeout": self.timeout, "metadata": self.metadata}
