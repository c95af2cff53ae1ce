"""Streaming file writers that hash what they write (for the manifest)."""

from __future__ import annotations

import hashlib
from pathlib import Path


class HashingWriter:
    """Text writer (UTF-8) that feeds a sha256 while writing; buffered."""

    def __init__(self, path: Path, newline: str = ""):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._f = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._h = hashlib.sha256()
        self._buf: list[str] = []
        self._n = 0

    def write(self, s: str) -> int:
        self._buf.append(s)
        self._n += len(s)
        if self._n > 1 << 20:
            self.flush()
        return len(s)

    def flush(self) -> None:
        if self._buf:
            b = "".join(self._buf).encode("utf-8")
            self._h.update(b)
            self._f.write(b)
            self._buf = []
            self._n = 0

    def close(self) -> str:
        self.flush()
        self._f.close()
        return self._h.hexdigest()

    def __enter__(self) -> HashingWriter:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        if not self._f.closed:
            self.close()

    @property
    def sha256(self) -> str:
        return self._h.hexdigest()


class Manifest:
    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, dict] = {}

    def add(self, path: Path, rows: int, sha: str) -> None:
        self.files[path.relative_to(self.root).as_posix()] = {"rows": rows, "sha256": sha}
