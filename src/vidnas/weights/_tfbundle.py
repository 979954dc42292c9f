"""A TensorFlow checkpoint (tensor bundle) reader in numpy alone, so converting MoViNet needs no TensorFlow.

A bundle ``PREFIX`` is ``PREFIX.index`` — a LevelDB-format table mapping each tensor name to a serialised
``BundleEntryProto`` (dtype, shape, shard, offset, size, crc32c; the empty key holds the ``BundleHeaderProto``) —
and ``PREFIX.data-SSSSS-of-NNNNN`` shards of raw little-endian tensor bytes (tensorflow
``core/util/tensor_bundle``, ``core/lib/io/table_format``). String tensors (the object graph) are skipped;
sliced (partitioned) variables are refused with a clear error.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import IO

import numpy as np

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64, 10: np.bool_,
          17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}
DT_STRING = 7
DT_BFLOAT16 = 14


def _error(message: str) -> Exception:
    from vidnas.weights._files import WeightsError

    return WeightsError(message)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message as (field number, value) pairs: varints as ints, fixed as ints, length-delimited as bytes."""
    out, at = [], 0
    while at < len(data):
        tag, at = _varint(data, at)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1:
            value, at = struct.unpack_from("<Q", data, at)[0], at + 8
        elif wire == 2:
            length, at = _varint(data, at)
            value, at = data[at:at + length], at + length
        elif wire == 5:
            value, at = struct.unpack_from("<I", data, at)[0], at + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def _snappy(data: bytes) -> bytes:
    """Decompress a raw snappy block (the table format's only compression)."""
    size, at = _varint(data, 0)
    out = bytearray()
    while at < len(data):
        tag = data[at]
        at += 1
        kind = tag & 3
        if kind == 0:
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                length = int.from_bytes(data[at:at + extra], "little")
                at += extra
            length += 1
            out += data[at:at + length]
            at += length
            continue
        if kind == 1:
            length, offset = ((tag >> 2) & 7) + 4, ((tag >> 5) << 8) | data[at]
            at += 1
        elif kind == 2:
            length, offset = (tag >> 2) + 1, int.from_bytes(data[at:at + 2], "little")
            at += 2
        else:
            length, offset = (tag >> 2) + 1, int.from_bytes(data[at:at + 4], "little")
            at += 4
        if offset == 0 or offset > len(out):
            raise ValueError("corrupt snappy block")
        for _ in range(length):  # copies may overlap their own output
            out.append(out[-offset])
    if len(out) != size:
        raise ValueError("corrupt snappy block (length)")
    return bytes(out)


def _block(index: bytes, offset: int, size: int) -> bytes:
    raw = index[offset:offset + size + 5]
    if len(raw) != size + 5:
        raise ValueError("block runs past the end of the file")
    contents, kind = raw[:size], raw[size]
    if kind == 1:
        return _snappy(contents)
    if kind != 0:
        raise ValueError(f"unknown block compression {kind}")
    return contents


def _entries(block: bytes) -> list[tuple[bytes, bytes]]:
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    out, at, key = [], 0, b""
    while at < end:
        shared, at = _varint(block, at)
        unshared, at = _varint(block, at)
        length, at = _varint(block, at)
        key = key[:shared] + block[at:at + unshared]
        at += unshared
        out.append((key, block[at:at + length]))
        at += length
    return out


def _table(index: bytes) -> list[tuple[bytes, bytes]]:
    if len(index) < FOOTER_SIZE or struct.unpack_from("<Q", index, len(index) - 8)[0] != TABLE_MAGIC:
        raise ValueError("no table footer (not a TensorFlow checkpoint .index file)")
    footer = index[-FOOTER_SIZE:]
    _meta_offset, at = _varint(footer, 0)
    _meta_size, at = _varint(footer, at)
    index_offset, at = _varint(footer, at)
    index_size, at = _varint(footer, at)
    rows = []
    for _last_key, handle in _entries(_block(index, index_offset, index_size)):
        offset, at = _varint(handle, 0)
        size, _ = _varint(handle, at)
        rows.extend(_entries(_block(index, offset, size)))
    return rows


def _shape(message: bytes) -> tuple[int, ...]:
    dims = []
    for number, value in _fields(message):
        if number == 2:
            size = next((v for n, v in _fields(value) if n == 1), 0)  # type: ignore[arg-type]
            dims.append(int(size) if int(size) < 2**63 else int(size) - 2**64)
        elif number == 3 and value:
            raise ValueError("a tensor of unknown rank")
    return tuple(dims)


def read_bundle(opener: Callable[[str], IO[bytes]], where: str) -> dict[str, np.ndarray]:
    """Every numeric tensor of the bundle ``opener`` reads (``opener(".index")``, ``opener(".data-00000-of-00001")``)."""
    with opener(".index") as handle:
        index = handle.read()
    try:
        rows = _table(index)
    except (ValueError, struct.error) as error:
        raise _error(f"{where}.index: not a readable TensorFlow checkpoint index ({error})") from None
    shards = 1
    entries: list[tuple[str, dict[int, object]]] = []
    for key, value in rows:
        fields = dict(_fields(value))
        if key == b"":
            shards = int(fields.get(1, 1))  # type: ignore[arg-type]
            if int(fields.get(2, 0)) != 0:  # type: ignore[arg-type]
                raise _error(f"{where}: a big-endian checkpoint; only little-endian bundles are read")
            continue
        if any(n == 7 for n, _ in _fields(value)):
            raise _error(f"{where}: {key.decode(errors='replace')} is a sliced (partitioned) variable, which is not supported")
        entries.append((key.decode("utf-8", errors="replace"), fields))
    data: dict[int, bytes] = {}
    tensors: dict[str, np.ndarray] = {}
    for name, fields in entries:
        dtype = int(fields.get(1, 0))  # type: ignore[arg-type]
        if dtype == DT_STRING:
            continue
        shape = _shape(fields.get(2, b""))  # type: ignore[arg-type]
        shard, offset, size = int(fields.get(3, 0)), int(fields.get(4, 0)), int(fields.get(5, 0))  # type: ignore[arg-type]
        if shard not in data:
            with opener(f".data-{shard:05d}-of-{shards:05d}") as handle:
                data[shard] = handle.read()
        raw = data[shard][offset:offset + size]
        if dtype == DT_BFLOAT16:
            array = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dtype in DTYPES:
            array = np.frombuffer(raw, dtype=np.dtype(DTYPES[dtype]).newbyteorder("<"))
        else:
            raise _error(f"{where}: {name} has TensorFlow dtype {dtype}, which vidnas does not read")
        count = int(np.prod(shape)) if shape else 1
        if len(raw) != size or array.size != count:
            raise _error(f"{where}: {name} should hold {count} values of shape {shape} but its bytes hold {array.size} (a truncated shard?)")
        tensors[name] = array.reshape(shape).copy()
    return tensors


def write_bundle(tensors: dict[str, np.ndarray], prefix: str) -> None:
    """Write ``tensors`` as a one-shard, uncompressed bundle at ``prefix`` (fixtures and round trips; TensorFlow
    writes the same layout: sorted keys, one restart point per 16 keys, then an index block and the footer)."""
    codes = {np.dtype(v): k for k, v in DTYPES.items()}

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte = value & 0x7F
            value >>= 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    def field(number: int, value: int | bytes) -> bytes:
        if isinstance(value, bytes):
            return varint(number << 3 | 2) + varint(len(value)) + value
        return varint(number << 3) + varint(value)

    def block(rows: list[tuple[bytes, bytes]]) -> bytes:
        out, restarts, previous = bytearray(), [], b""
        for i, (key, value) in enumerate(rows):
            shared = 0
            if i % 16 == 0:
                restarts.append(len(out))
            else:
                while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                    shared += 1
            out += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
            previous = key
        for restart in restarts or [0]:
            out += struct.pack("<I", restart)
        out += struct.pack("<I", len(restarts or [0]))
        return bytes(out)

    payload = bytearray()
    rows = [(b"", field(1, 1) + field(3, field(1, 1)))]
    for name in sorted(tensors):
        array = np.asarray(tensors[name])  # tobytes() is C order; ascontiguousarray would make scalars 1-d
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        shape = b"".join(field(2, field(1, int(d))) for d in array.shape)
        entry = field(1, codes[array.dtype]) + field(2, shape) + field(4, len(payload)) + field(5, len(raw))
        rows.append((name.encode(), entry))
        payload += raw
    index = bytearray()
    data_block = block(rows)
    data_handle = varint(0) + varint(len(data_block))
    index += data_block + b"\x00\x00\x00\x00\x00"
    meta_block = block([])
    meta_handle = varint(len(index)) + varint(len(meta_block))
    index += meta_block + b"\x00\x00\x00\x00\x00"
    index_block = block([(rows[-1][0] + b"\x00", data_handle)])
    index_handle = varint(len(index)) + varint(len(index_block))
    index += index_block + b"\x00\x00\x00\x00\x00"
    footer = (meta_handle + index_handle).ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    with open(prefix + ".index", "wb") as handle:
        handle.write(bytes(index) + footer)
    with open(prefix + ".data-00000-of-00001", "wb") as handle:
        handle.write(bytes(payload))
