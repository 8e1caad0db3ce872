"""Upsert messages encoded straight from numpy.

Building one protobuf ``Vector`` per row from Python floats costs seconds per million floats;
the wire format of ``UpsertRequest`` is simple enough to write from the array's bytes instead
(field 1: the collection name; field 2, repeated: ``Vector{id = 1 (varint), values = 2 (packed
float32)}``). The server parses these as any other client's messages; a test checks the bytes
against the protobuf library's own encoding.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from adanns import _requests
from adanns._progress import counted, reporter

# Per-message headroom for the collection name's field; per-vector: the Vector field's tag and
# length, the id field (up to 10-byte varint) and the values field's tag and length.
_VECTOR_OVERHEAD_BYTES = 32
MAX_VECTORS_PER_MESSAGE = 100_000  # the server's limit (UpsertRequest.vectors)


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative integer."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def vectors_per_message(collection: str, dim: int, message_bytes: int) -> int:
    """How many vectors of `dim` floats fit one message of at most `message_bytes`."""
    header = 16 + len(collection.encode())
    per_vector = _VECTOR_OVERHEAD_BYTES + 4 * dim
    fitting = max(1, (message_bytes - header) // per_vector)
    return int(min(fitting, MAX_VECTORS_PER_MESSAGE))


def _varint_lengths(ids: np.ndarray) -> np.ndarray:
    """Bytes of each id's varint; 0 for id 0, whose field proto3 leaves out."""
    lengths = np.ones(len(ids), dtype=np.int64)
    for shift in range(7, 64, 7):
        lengths += (ids >> np.uint64(shift)) != 0
    lengths[ids == 0] = 0
    return lengths


def encode_upsert(collection: str, ids: np.ndarray, rows: np.ndarray) -> bytes:
    """One serialized UpsertRequest: `ids` (uint64, n) and `rows` (float32, n x dim).

    Rows whose ids have varints of one length make records of one size, so each run of them is
    written as one (rows x record) byte array, column by column: no Python loop over rows.
    """
    name = collection.encode()
    ids = np.asarray(ids, dtype=np.uint64)
    values = np.ascontiguousarray(rows, dtype="<f4")
    row_bytes = values.shape[1] * 4
    values_header = np.frombuffer(b"\x12" + varint(row_bytes), dtype=np.uint8)
    id_lengths = _varint_lengths(ids)
    runs = np.flatnonzero(np.diff(id_lengths)) + 1
    parts: list = [b"\x0a", varint(len(name)), name]
    for start, end in zip([0, *runs.tolist()], [*runs.tolist(), len(ids)]):
        id_length = int(id_lengths[start])
        id_field = 1 + id_length if id_length else 0
        inner = id_field + len(values_header) + row_bytes
        header = np.frombuffer(b"\x12" + varint(inner), dtype=np.uint8)
        block = np.empty((end - start, len(header) + inner), dtype=np.uint8)
        block[:, :len(header)] = header
        column = len(header)
        if id_length:
            block[:, column] = 0x08
            column += 1
            run_ids = ids[start:end]
            for byte in range(id_length):
                digit = (run_ids >> np.uint64(7 * byte)) & np.uint64(0x7F)
                if byte + 1 < id_length:
                    digit |= np.uint64(0x80)
                block[:, column + byte] = digit.astype(np.uint8)
            column += id_length
        block[:, column:column + len(values_header)] = values_header
        column += len(values_header)
        block[:, column:] = values[start:end].view(np.uint8)
        parts.append(block)
    return b"".join(parts)


def upsert_messages(collection: str, ids: np.ndarray, rows: np.ndarray,
                    per_message: int) -> Iterator[bytes]:
    """The stream's messages, `per_message` vectors each (the last may hold fewer)."""
    for start in range(0, len(ids), per_message):
        end = start + per_message
        yield encode_upsert(collection, ids[start:end], rows[start:end])


def upsert_stream(collection: str, ids: Any, vectors: Any, progress: Any,
                  message_bytes: int, max_message_bytes: int) -> Iterator[bytes]:
    """The messages of one upsert call: arguments checked and converted first (InvalidArgument
    before anything is sent), progress reported as messages are handed to gRPC."""
    rows = _requests.as_rows(vectors)
    keys = _requests.as_ids(ids, len(rows))
    per_message = vectors_per_message(collection, rows.shape[1],
                                      min(message_bytes, max_message_bytes))
    report = reporter(progress, len(rows), "upsert")
    return counted(upsert_messages(collection, keys, rows, per_message), per_message, len(rows),
                   report)
