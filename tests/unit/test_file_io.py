"""Atomic writes that never replace a device, pipe or folder, and reads that refuse them (src/hrm/file_io.py)."""

import os
import stat

import pytest

from src.hrm import file_io
from src.hrm.file_io import (
    FileTooLarge,
    NotARegularFile,
    atomic_write,
    check_output_file,
    open_regular,
    read_text,
    write_bytes_atomically,
    write_text_atomically,
)


def ordinary_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_a_write_replaces_the_file_whole_with_ordinary_permissions(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    os.chmod(path, 0o600)
    write_text_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == ordinary_mode()  # not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_crash_mid_write_leaves_the_previous_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "model.safetensors"
    write_bytes_atomically(path, b"good")
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_write(path, binary=True) as file:
            file.write(b"half")
            raise RuntimeError("crash")
    assert path.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_an_os_error_names_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "page.html"

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(file_io.os, "fsync", full)
    with pytest.raises(OSError) as caught:
        write_text_atomically(path, "x")
    assert (caught.value.filename, caught.value.strerror) == (str(path), "No space left on device")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_a_target_that_is_not_a_regular_file_is_refused_and_left_as_it_is(tmp_path, kind):
    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    elif kind == "folder":
        target = tmp_path / "folder"
        target.mkdir()
    else:
        target = "/dev/null"
    before = os.stat(target)
    with pytest.raises(NotARegularFile, match="not a regular file"):
        write_text_atomically(target, "x")
    with pytest.raises(ValueError, match="^--out .*not a regular file"):
        check_output_file(str(target), "--out")
    after = os.stat(target)
    assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (before.st_ino, stat.S_IFMT(before.st_mode))


def test_a_symbolic_link_stays_a_link_and_the_file_it_names_is_replaced(tmp_path):
    real = tmp_path / "real.gif"
    real.write_bytes(b"old")
    link = tmp_path / "link.gif"
    link.symlink_to(real)
    write_bytes_atomically(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    device_link = tmp_path / "null.gif"
    device_link.symlink_to("/dev/null")
    with pytest.raises(NotARegularFile, match="character device"):
        write_bytes_atomically(device_link, b"x")
    assert device_link.is_symlink()


def test_empty_and_folderless_output_paths_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        write_text_atomically("", "x")
    with pytest.raises(ValueError, match="^--gif needs a file name"):
        check_output_file("", "--gif")
    with pytest.raises(ValueError, match="no such folder"):
        check_output_file(str(tmp_path / "missing" / "a.gif"), "--gif")
    check_output_file(str(tmp_path / "a.gif"), "--gif")  # a new file in a folder that exists is fine


def test_reads_refuse_devices_and_pipes_without_blocking_and_cap_whole_file_reads(tmp_path):
    with pytest.raises(NotARegularFile, match="character device"):
        open_regular("/dev/zero")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)  # no writer: a plain open would wait for one forever
    with pytest.raises(NotARegularFile, match="pipe"):
        open_regular(pipe)
    with pytest.raises(NotARegularFile, match="folder"):
        open_regular(tmp_path)
    path = tmp_path / "board.txt"
    path.write_text("S..\r\n..G\n")
    assert read_text(path, limit=100) == "S..\r\n..G\n"  # newlines as written
    with pytest.raises(FileTooLarge, match="more than the 4 such a file may have"):
        read_text(path, limit=4)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        read_text(path, limit=100)


def test_a_line_far_longer_than_any_puzzle_line_is_refused_naming_it(tmp_path):
    from src.hrm.file_io import bounded_lines
    from src.hrm.sudoku.files import PuzzleFileError, read_puzzle_file

    path = tmp_path / "puzzles.csv"
    path.write_text("source,question,answer,rating\n" + "x" * 100_000)  # one line, no newline: 100 KB
    with pytest.raises(PuzzleFileError, match=r"puzzles.csv:2: a line of more than 65,536 characters"):
        read_puzzle_file(path)
    with open_regular(path) as handle:
        assert next(bounded_lines(handle, "p")) == "source,question,answer,rating\n"
    # A line at the limit is still a line.
    path.write_text("a" * 9 + "\nb\n")
    with open_regular(path) as handle:
        assert list(bounded_lines(handle, "p", limit=10)) == ["a" * 9 + "\n", "b\n"]
