"""Reading files and streams without trusting them: regular files only, never past a limit.

Every file medbrief reads on a user's behalf (articles, labelled data, model files, the
model pointer) goes through here, so a link to ``/dev/zero``, a FIFO or a huge file gives
a clear error instead of a hang or a MemoryError.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from medbrief.errors import MedbriefError

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class TooLarge(MedbriefError, ValueError):
    """Input over a size limit (the caller names the limit's setting in its own error)."""


def read_file(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    The file is opened without blocking (a FIFO does not wait for a writer) and checked to
    be a regular file before anything is read; at most ``limit + 1`` bytes are read, so a
    file that grows or lies about its size cannot exhaust memory. Raises OSError for a file
    that cannot be opened or is not a regular file, TooLarge for one over the limit.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise OSError(f"{what} is {kind}, not a regular file")
        if info.st_size > limit:
            raise TooLarge(f"{what} too large ({info.st_size} bytes; the limit is {limit})")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise TooLarge(f"{what} too large (over the limit of {limit} bytes)")
    return b"".join(chunks)


def read_stream(stream: BinaryIO, limit: int, what: str = "input") -> bytes:
    """At most ``limit`` bytes of a stream (standard input); TooLarge past that."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{what} too large (over the limit of {limit} bytes)")
    return data
