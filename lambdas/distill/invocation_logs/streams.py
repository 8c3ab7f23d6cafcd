"""A stream of concatenated JSON values, split into values without parsing them and with flat memory.

For log files that are not one record per line: pretty-printed records, or several on one line. Only the value
being read is buffered (at most ``max_bytes``); each comes with the line it starts on, for error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator


class ValueTooLong(Exception):
    """The value being read is longer than the limit; the rest of the stream cannot be resynchronized."""

    def __init__(self, line: int) -> None:
        self.line = line


class Unfinished(Exception):
    """The stream ends inside a value."""

    def __init__(self, line: int) -> None:
        self.line = line


_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
_IN_STRING = re.compile(rb'["\\]')
_STRUCTURE = re.compile(rb'[{}\[\]"]')
_SCALAR_END = re.compile(rb'[ \t\r\n{}\[\]"]')


class Values:
    """Split a stream of concatenated JSON values (one per line or not, pretty-printed or not) into values,
    with the line each starts on. Only the value being read is buffered (at most ``max_bytes``)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.line_no = 1  # the line of the first byte not yet accounted for

    def split(self, chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
        buf = bytearray()
        pos, start, depth, in_string, scalar = 0, -1, 0, False, False
        counted = 0  # newlines in buf[:counted] are in self.line_no already
        for chunk in chunks:
            buf += chunk
            size = len(buf)
            while pos < size:
                if start < 0:  # between values
                    found = _NOT_SPACE.search(buf, pos)
                    if found is None:
                        pos = size
                        break
                    start = pos = found.start()
                    self.line_no += buf.count(b"\n", counted, start)
                    counted = start
                    opener = buf[start]
                    depth = 1 if opener in b"{[" else 0  # an object or array: count brackets to its end
                    in_string = opener == 0x22  # a top-level string: read to its closing quote
                    scalar = opener not in b'{["'  # a number, true, false, null or garbage: read to a delimiter
                    pos = start if scalar else start + 1
                if scalar:
                    found = _SCALAR_END.search(buf, pos)
                    if found is None:
                        pos = size
                        break
                    pos = max(found.start(), start + 1)  # a stray '}' or ']' is a one-byte value
                    yield self.line_no, bytes(buf[start:pos])
                    start, scalar = -1, False
                elif in_string:
                    found = _IN_STRING.search(buf, pos)
                    if found is None:
                        pos = size
                        break
                    if buf[found.start()] == 0x5C:  # backslash: skip the escaped byte
                        pos = found.start() + 2
                        continue
                    pos, in_string = found.end(), False
                    if depth == 0:
                        yield self.line_no, bytes(buf[start:pos])
                        start = -1
                else:
                    found = _STRUCTURE.search(buf, pos)
                    if found is None:
                        pos = size
                        break
                    pos, byte = found.end(), buf[found.start()]
                    if byte == 0x22:
                        in_string = True
                    elif byte in b"{[":
                        depth += 1
                    else:
                        depth -= 1
                        if depth == 0:
                            yield self.line_no, bytes(buf[start:pos])
                            start = -1
            # Forget what has been read: everything before the value being read (or before pos between values).
            keep_from = min(start if start >= 0 else pos, size)
            if keep_from:
                self.line_no += buf.count(b"\n", counted, keep_from) if keep_from > counted else 0
                counted = max(counted - keep_from, 0)
                del buf[:keep_from]
                pos -= keep_from
                start = start - keep_from if start >= 0 else -1
            if start >= 0 and len(buf) > self.max_bytes:
                raise ValueTooLong(self.line_no)
        if start >= 0:
            if scalar:
                yield self.line_no, bytes(buf[start:])
            else:
                raise Unfinished(self.line_no)
