"""Files the tools write and read, safely: written whole or not at all and never over something that is not a
regular file (figures too); read only from regular files, and up to a size where they are read whole.

A crash mid-write leaves the previous file or the complete new one (a temporary file beside the target, fsynced,
then renamed over it). Without the checks, `--out /dev/null` run as root would replace the system's /dev/null
with a regular file, and `--board /dev/zero` would read until memory runs out.
"""

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from pathlib import Path


class NotARegularFile(OSError):
    """A path the tools refuse to read or replace: a device, a pipe, a socket or a folder."""

    def __init__(self, path, kind: str):
        super().__init__(errno.EINVAL, f"is {kind}, not a regular file", str(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class FileTooLarge(OSError):
    """A file read whole that is larger than what such a file can sensibly be."""

    def __init__(self, path, size: int, limit: int):
        super().__init__(errno.EFBIG, f"is {size:,} bytes, more than the {limit:,} such a file may have", str(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return kind
    return "a special file"


def writable_target(path) -> Path:
    """The file a write to `path` replaces: `path` itself, or what a symbolic link there names (the link stays).

    Raises NotARegularFile where that is a device, pipe, socket or folder, and ValueError for an empty path.
    """
    if not os.fspath(path):
        raise ValueError("an empty path names no file")
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):  # a new file (its folder is the writer's to check)
        return target
    if not stat.S_ISREG(mode):
        raise NotARegularFile(path, _kind(mode))
    return target


def check_output_file(path: str, flag: str) -> None:
    """Before the work that makes it: a file can be written at `path` (its folder exists; it is not empty, a
    folder, a device, a pipe or a socket). A ValueError naming `flag` otherwise."""
    if not path:
        raise ValueError(f"{flag} needs a file name, got an empty one")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{flag} {path}: no such folder {folder}")
    try:
        writable_target(path)
    except NotARegularFile as err:
        raise ValueError(f"{flag} {err}") from None


@contextlib.contextmanager
def atomic_write(path, binary: bool = False):
    """Open a temporary file beside `path` for writing (text as UTF-8, or `binary`); when the block ends without
    an error, fsync it and rename it over `path`. On an error nothing at `path` changes and the temporary file
    is removed; an OSError then names `path`, not the temporary name.

    The file gets the usual permissions (0644 under the common umask), as `open` gives, not mkstemp's 0600.
    """
    target = writable_target(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb" if binary else "x", **({} if binary else {"encoding": "utf-8", "newline": ""})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, (NotARegularFile, FileTooLarge)):
            raise OSError(err.errno, err.strerror or str(err), str(path)) from None
        raise
    _fsync_folder(target.parent)


def write_text_atomically(path, text: str) -> None:
    with atomic_write(path) as file:
        file.write(text)


def write_bytes_atomically(path, data: bytes) -> None:
    with atomic_write(path, binary=True) as file:
        file.write(data)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not possible (nor needed) on every platform."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_sha256(path) -> str:
    """The SHA-256 of a file's bytes, read a MiB at a time."""
    digest = hashlib.sha256()
    with open_regular(path, binary=True) as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_regular(path, binary: bool = False, limit: int | None = None):
    """Open `path` for reading, refusing anything but a regular file (NotARegularFile) and, with `limit`, a file
    over `limit` bytes (FileTooLarge). Text is UTF-8 with newlines as written.

    The check is made on the opened descriptor, and the open does not block on a pipe with no writer.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(path, _kind(info.st_mode))
        if limit is not None and info.st_size > limit:
            raise FileTooLarge(path, info.st_size, limit)
        return os.fdopen(fd, "rb") if binary else os.fdopen(fd, encoding="utf-8", newline="")
    except BaseException:
        os.close(fd)
        raise


# A line of a puzzle or maze file is a few hundred characters (a 30x30 maze's row: about 1,900); a longer one is
# not such a file, and a file with no newline at all would otherwise be read into memory whole.
MAX_LINE = 1 << 16


def bounded_lines(handle, source: str, error=ValueError, limit: int = MAX_LINE):
    """The lines of an open text file, one at a time; `error` naming the line for one over `limit` characters."""
    number = 0
    while line := handle.readline(limit + 1):
        number += 1
        if len(line) > limit:
            raise error(f"{source}:{number}: a line of more than {limit:,} characters; not a puzzle file")
        yield line


def read_text(path, limit: int) -> str:
    """A regular UTF-8 file of at most `limit` bytes, whole (UnicodeDecodeError if it is not UTF-8)."""
    with open_regular(path, limit=limit) as file:
        return file.read(limit + 1)  # a file that grew since the check still stops near the limit


def save_figure(figure, path, dpi: int = 110) -> None:
    """Lay a matplotlib `figure` out tightly, write it to `path` as a PNG whole or not at all, and close it."""
    import matplotlib.pyplot as plt

    try:
        figure.tight_layout()
        with atomic_write(path, binary=True) as file:
            figure.savefig(file, format="png", dpi=dpi)
    finally:
        plt.close(figure)
