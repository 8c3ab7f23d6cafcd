"""Local files: sources that read them, and a sink that replaces its target only when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any

DATASET_SUFFIXES = (".jsonl", ".jsonl.gz")


class LocalFileSource:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(path)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def open(self) -> IO[bytes]:
        return open(self.path, "rb")  # the engine closes it

    def __repr__(self) -> str:
        return f"LocalFileSource({self.name!r})"


def local_sources(paths: Any) -> list[LocalFileSource]:
    """Files as given; a folder becomes its *.jsonl and *.jsonl.gz files in name order."""
    if isinstance(paths, str | Path):
        paths = [paths]
    sources: list[LocalFileSource] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(DATASET_SUFFIXES))
            if not found:
                raise ValueError(f"{raw}: no .jsonl or .jsonl.gz files in this folder")
            sources.extend(LocalFileSource(p) for p in found)
        elif path.is_file():
            sources.append(LocalFileSource(raw))
        else:
            raise FileNotFoundError(f"{raw}: no such file or folder")
    return sources


class AtomicFileSink:
    """Writes to a temporary file beside ``path`` and renames it over ``path`` on commit.

    A failed or interrupted run leaves ``path`` as it was (absent or the previous content); the rename
    is atomic because the temporary file is in the same directory, hence on the same file system.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[bytes] | None = None
        self._temp: str | None = None
        self._done = False

    def _open(self) -> IO[bytes]:
        if self._done:
            raise RuntimeError(f"{self.path}: sink already committed or aborted")
        if self._file is None:
            fd, self._temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent or ".")
            self._file = os.fdopen(fd, "wb")
        return self._file

    def write(self, data: bytes) -> None:
        self._open().write(data)

    def commit(self) -> None:
        file = self._open()  # an empty dataset still replaces the target
        try:
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points at it
            file.close()
            os.chmod(self._temp, 0o644)  # type: ignore[arg-type]  # mkstemp makes it 0600
            os.replace(self._temp, self.path)  # type: ignore[arg-type]
        except BaseException:
            self.abort()
            raise
        self._done, self._file, self._temp = True, None, None

    def abort(self) -> None:
        self._done = True
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)
            self._temp = None
