"""Files a runtime or a build container wrote, opened from the host.

A container's mounts (/mnt/logs, /mnt/code, /tmp) are folders of the host that code in the container
writes: a link it leaves under a name the server reads would make the server read any file of the
user's on its behalf, and a FIFO would block the server. So such a file is opened only if it is a
regular file itself: no link followed, nothing else opened.
"""
from __future__ import annotations

import os
import stat


def open_regular_file(path: str | os.PathLike) -> int | None:
    """A read-only descriptor of the regular file at `path`, or None when there is none there (missing,
    a link, a FIFO, a directory). The caller closes it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # missing, or a link (ELOOP)
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None
