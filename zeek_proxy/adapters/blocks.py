"""Reading logs in large line-aligned blocks, and splitting blocks into Arrow line arrays.

Blocks keep memory constant whatever the input size, and hand whole lines to Arrow
kernels that scan them without the GIL.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import pyarrow as pa
import pyarrow.compute as pc

BLOCK_SIZE = 8 << 20


@dataclass(frozen=True)
class Block:
    """Whole lines of a log; only the stream's very last line may lack its newline."""

    data: bytes
    first_line: int
    offset: int  # bytes of the (uncompressed) stream before this block


def read_blocks(stream: BinaryIO, size: int = BLOCK_SIZE) -> Iterator[Block]:
    """Line-aligned blocks of about `size` bytes (a longer line makes a longer block).

    When the stream breaks (a truncated gzip), the complete lines read before the break
    are still yielded, then the error is raised.
    """
    read = getattr(stream, "read1", stream.read)
    carry = b""
    line, offset = 1, 0
    while True:
        pieces, total, error, eof = [carry], len(carry), None, False
        try:
            while total < size:
                chunk = read(size - total)
                if not chunk:
                    eof = True
                    break
                pieces.append(chunk)
                total += len(chunk)
        except (EOFError, OSError, zlib.error) as exc:
            error = exc
        data = b"".join(pieces)
        cut = len(data) if eof else data.rfind(b"\n") + 1
        if cut:
            block, carry = data[:cut], data[cut:]
            yield Block(block, line, offset)
            line += block.count(b"\n")
            offset += len(block)
        else:
            carry = data
        if error is not None:
            raise error
        if eof:
            return


def lines_of(data: bytes) -> pa.Array:
    """The lines of a block as an Arrow array, without their newlines."""
    lines = pc.split_pattern(pa.array([data], pa.large_binary()), "\n").flatten()
    return lines.slice(0, len(lines) - 1) if data.endswith(b"\n") else lines
