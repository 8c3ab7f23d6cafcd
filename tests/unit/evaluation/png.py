"""A small PNG reader (standard library only) for the screenshot test: 8-bit RGB or RGBA, not interlaced."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from itertools import accumulate

SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered scanlines

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        at = x * self.channels
        r, g, b = self.rows[y][at : at + 3]
        return r, g, b


def read(data: bytes) -> Image:
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file")
    at, idat, header = len(SIGNATURE), [], b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or color not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, color type {color}, interlace {interlace}")
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    low, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        if kind == 2:  # Up: a byte-wise sum without carries, on the whole row at once
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            line = (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big")
        elif kind == 1:  # Sub: a running sum per channel
            out = bytearray(stride)
            for c in range(channels):
                out[c::channels] = bytes(v & 0xFF for v in accumulate(line[c::channels]))
            line = bytes(out)
        elif kind == 3:  # Average
            out = bytearray(line)
            for i in range(stride):
                left = out[i - channels] if i >= channels else 0
                out[i] = (out[i] + (left + previous[i]) // 2) & 0xFF
            line = bytes(out)
        elif kind == 4:  # Paeth; the predictor inlined, as this loop runs for every byte of the image
            out = bytearray(line)
            for i in range(stride):
                if i >= channels:
                    a, b, c = out[i - channels], previous[i], previous[i - channels]
                else:
                    a, b, c = 0, previous[i], 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            line = bytes(out)
        elif kind != 0:
            raise ValueError(f"unknown PNG filter {kind}")
        rows.append(line)
        previous = line
    return Image(width, height, channels, rows)
