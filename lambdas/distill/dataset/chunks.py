"""A source's bytes as the dataset engine and the invocation-log reader take them: in pieces of at most
:data:`CHUNK_SIZE`, gunzipped when the name ends ``.gz`` or the bytes start like gzip (a small gzip bomb cannot fill
memory at once; concatenated members are read one after the other), without a UTF-8 BOM, the stream closed at the
end."""

from __future__ import annotations

import zlib
from collections.abc import Generator, Iterator
from typing import Any

CHUNK_SIZE = 1 << 20
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


def source_pieces(source: Any, name: str) -> Generator[bytes, None, None]:
    """``source.open()``'s bytes, decoded as above; empty pieces are left out."""
    stream = source.open()
    try:
        first = stream.read(CHUNK_SIZE)
        gzipped = name.endswith(".gz") or first[:2] == _GZIP_MAGIC
        at_start = True
        for piece in _gunzip(first, stream) if gzipped else _plain(first, stream):
            if at_start:
                piece = piece.removeprefix(_BOM)
                at_start = not piece
            if piece:
                yield piece
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _plain(first: bytes, stream: Any) -> Iterator[bytes]:
    chunk = first
    while chunk:
        yield chunk
        chunk = stream.read(CHUNK_SIZE)


def _gunzip(first: bytes, stream: Any) -> Iterator[bytes]:
    """Decompress in pieces of at most CHUNK_SIZE, so a small gzip bomb cannot fill memory at once.
    Concatenated gzip members (as ``cat a.gz b.gz`` makes) are read one after the other."""
    inflater = zlib.decompressobj(wbits=31)
    data, fed = first, False
    while True:
        if not data:
            data = stream.read(CHUNK_SIZE)
            if not data:
                break
        fed = True
        while data:
            piece = inflater.decompress(data, CHUNK_SIZE)
            if piece:
                yield piece
            if inflater.eof:
                data = inflater.unused_data
                fed = bool(data)
                inflater = zlib.decompressobj(wbits=31)
            else:
                data = inflater.unconsumed_tail
    if fed:
        rest = inflater.flush()
        if rest:
            yield rest
        if not inflater.eof:
            raise zlib.error("the gzip stream is truncated")
