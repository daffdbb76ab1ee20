"""A tiny deterministic PNG encoder for synthetic ID photos (no imaging library needed)."""

from __future__ import annotations

import math
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
    grey = rng.randint(10, 60)
    hair = (grey, grey, grey)
    shirt = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    face_w, face_h = rng.randint(9, 12), rng.randint(12, 15)
    rows: list[bytes] = []
    centre = WIDTH / 2
    for y in range(HEIGHT):
        # Each scanline is background with at most one span (face or shirt): build it by
        # slicing whole spans, not pixel by pixel, so a photo costs microseconds.
        span: tuple[int, int, tuple[int, int, int]] | None = None
        dy = (y - 26) / face_h
        if dy * dy <= 1:
            half = face_w * math.sqrt(1 - dy * dy)
            colour = hair if y < 26 - face_h * 0.55 else skin
            span = (math.ceil(centre - half), math.floor(centre + half) + 1, colour)
        elif y > 46:
            half = 8 + (y - 46) * 1.2
            span = (math.floor(centre - half) + 1, math.ceil(centre + half), shirt)
        row = bytearray(bytes(background) * WIDTH)
        if span is not None:
            start, stop = max(span[0], 0), min(span[1], WIDTH)
            row[start * 3 : stop * 3] = bytes(span[2]) * (stop - start)
        rows.append(b"\x00" + bytes(row))  # filter type 0 (none) for each scanline
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + _chunk(b"IEND", b"")
    )
