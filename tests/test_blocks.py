"""Blocks of a mapped file and of a read stream hold the same lines at the same offsets."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from zeek_proxy.reading import blocks
from zeek_proxy.reading.blocks import Block, read_blocks


def _lines(blocks: list[Block], limit: int) -> list[tuple[int, bytes | str]]:
    """Each line with its offset in the stream; a line over `limit` bytes is only "long",
    whether it was dropped or kept (the adapter counts either as malformed)."""
    out: list[tuple[int, bytes | str]] = []
    for block in blocks:
        if block.dropped:
            out.append((block.offset, "long"))
            continue
        position = block.offset
        for line in bytes(block.data).splitlines(keepends=True):
            out.append((position, line if len(line) <= limit else "long"))
            position += len(line)
    return out


def _settled(path: Path, content: bytes) -> None:
    """Write `content` with a modification time old enough for the file to be mapped."""
    path.write_bytes(content)
    old = time.time() - 2 * blocks.QUIET_SECONDS
    os.utime(path, (old, old))


def _both(path: Path, size: int, max_line: int, skip: int = 0) -> tuple[list[Block], list[Block]]:
    with open(path, "rb") as mapped_file:
        mapped_file.read(skip)
        mapped = list(read_blocks(mapped_file, size=size, max_line=max_line))
    read = list(read_blocks(io.BytesIO(path.read_bytes()[skip:]), size=size, max_line=max_line))
    return mapped, read


def test_a_plain_file_is_mapped_not_copied(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    _settled(path, b"a\nbb\n" * 10)
    mapped, read = _both(path, size=8, max_line=8)
    assert all(b.source is not None and isinstance(b.buffer, memoryview) for b in mapped)
    assert all(b.source is None for b in read)
    assert _lines(mapped, 8) == _lines(read, 8)


@given(content=st.lists(st.sampled_from([b"a", b"bcd", b"\n", b"\r\n", b"x" * 40, b"#"]), max_size=30)
       .map(b"".join),
       size=st.integers(4, 64), max_line=st.integers(4, 64), skip=st.integers(0, 3))
def test_mapped_and_read_blocks_agree(tmp_path_factory, content: bytes, size: int, max_line: int,
                                      skip: int) -> None:
    path = tmp_path_factory.mktemp("blocks") / "log"
    _settled(path, content)
    mapped, read = _both(path, size, max_line, skip)
    assert _lines(mapped, max(size, max_line)) == _lines(read, max(size, max_line))
    assert sum(b.length + b.dropped for b in mapped) == max(0, len(content) - skip)
    assert all(b.terminated for b in mapped[:-1])


def test_a_mapped_file_starts_with_a_small_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The main thread judges the first block alone, so it is short; the lines are the same."""
    monkeypatch.setattr(blocks, "FIRST_BLOCK_SIZE", 8)
    path = tmp_path / "conn.log"
    _settled(path, b"#header\n" + b"a\tb\tc\n" * 40)
    mapped, read = _both(path, size=64, max_line=64)
    assert mapped[0].length <= 8 < mapped[1].length
    assert _lines(mapped, 64) == _lines(read, 64)


def test_a_file_still_changing_is_read_not_mapped(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    path.write_bytes(b"a\nbb\n" * 10)  # just written: it may still be growing or be truncated
    with open(path, "rb") as stream:
        assert all(b.source is None for b in read_blocks(stream, size=8, max_line=8))


# -- gzip is inflated ahead by a thread of its own ----------------------------------------

def _gzip_stream(path: Path, data: bytes):  # type: ignore[no-untyped-def]
    import gzip as gz

    from zeek_proxy.reading.inputs import open_log

    path.write_bytes(gz.compress(data))
    return open_log(str(path))


def _inflaters() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name == "zeek-proxy-inflate"]


def test_a_gzip_file_is_inflated_ahead_into_the_same_blocks(tmp_path: Path) -> None:
    data = b"".join(b"line %d %s\n" % (i, b"x" * (i % 50)) for i in range(40_000))
    with _gzip_stream(tmp_path / "a.log.gz", data) as log:
        got = list(read_blocks(log.stream, size=64 << 10))
    assert b"".join(bytes(b.data) for b in got) == data and len(got) > 10
    assert all(bytes(b.data).endswith(b"\n") for b in got)
    assert not _inflaters()


def test_a_reader_that_stops_early_ends_the_inflating_thread(tmp_path: Path) -> None:
    data = b"".join(b"line %d\n" % i for i in range(200_000))
    with _gzip_stream(tmp_path / "a.log.gz", data) as log:
        blocks_read = read_blocks(log.stream, size=64 << 10)
        first = next(blocks_read)
        assert _inflaters()
        blocks_read.close()
        assert not _inflaters()
    assert bytes(first.data).startswith(b"line 0\n")


def test_a_broken_gzip_file_gives_its_whole_lines_then_the_error(tmp_path: Path) -> None:
    import gzip as gz

    from zeek_proxy.reading.inputs import GZIP_ERRORS, open_log

    data = b"".join(b"line %d\n" % i for i in range(200_000))
    packed = gz.compress(data)
    (tmp_path / "cut.log.gz").write_bytes(packed[: len(packed) // 2])
    got: list[bytes] = []
    with open_log(str(tmp_path / "cut.log.gz")) as log:
        with pytest.raises((OSError, *GZIP_ERRORS)):
            for block in read_blocks(log.stream, size=64 << 10):
                got.append(bytes(block.data))
    text = b"".join(got)
    assert len(text) > 100_000 and data.startswith(text) and text.endswith(b"\n")
    assert not _inflaters()
