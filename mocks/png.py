"""A tiny deterministic PNG encoder for synthetic ID photos (no imaging library needed)."""

from __future__ import annotations

import random
import struct
import zlib

WIDTH, HEIGHT = 48, 64  # ID photo proportions, small enough to ship in every answer


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def id_photo(seed: int) -> bytes:
    """A head-and-shoulders silhouette on a coloured background, the same for the same seed."""
    rng = random.Random(seed)
    background = rng.choice([(67, 142, 219), (255, 255, 255), (200, 30, 40)])
    skin = (rng.randint(200, 240), rng.randint(160, 200), rng.randint(130, 170))
    hair = (rng.randint(10, 60),) * 3
    shirt = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    face_w, face_h = rng.randint(9, 12), rng.randint(12, 15)
    rows = []
    for y in range(HEIGHT):
        row = bytearray([0])  # filter type 0 (none) for each scanline
        for x in range(WIDTH):
            dx, dy = (x - WIDTH / 2) / face_w, (y - 26) / face_h
            if dx * dx + dy * dy <= 1:
                pixel = hair if y < 26 - face_h * 0.55 else skin
            elif y > 46 and abs(x - WIDTH / 2) < 8 + (y - 46) * 1.2:
                pixel = shirt
            else:
                pixel = background
            row.extend(pixel)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )
