"""Zip archives for the tests: sound ones (zipfile), damaged ones, and hand-built ones whose
headers say what the test wants (a member that lies about its size, a decompression bomb)."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path


def make_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path.read_bytes()


def corrupt_middle(path: Path, member: str, at: float = 0.5) -> None:
    """Overwrite 64 bytes of a member's data (in the middle, or ``at`` that share of it), leaving
    the directory intact."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + int(info.compress_size * at)
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


def raw_zip(name: str, deflated: bytes, crc: int, declared_size: int, flags: int = 0) -> bytes:
    """A one-member archive around raw deflate data, with the given CRC and declared size."""
    encoded = name.encode()
    fields = (20, flags, zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(deflated), declared_size)
    local = b"PK\x03\x04" + struct.pack("<HHHHHIII", *fields) + struct.pack("<HH", len(encoded), 0)
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", 20)
        + struct.pack("<HHHHHIII", *fields)
        + struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, 0)
        + encoded
    )
    body = local + encoded + deflated
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(body), 0)
    return body + central + end


def zip_bomb(name: str, size_mb: int) -> bytes:
    """``size_mb`` MiB of zeros in about a thousandth of that: the same fully flushed deflate
    segment repeated (each segment starts afresh, so the copies decode alike)."""
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(size_mb):
        crc = zlib.crc32(zeros, crc)
    return raw_zip(name, segment * size_mb + final, crc, size_mb << 20)


def deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()
