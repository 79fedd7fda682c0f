"""Opening raw files so that every failure names the file: bytes, UTF-8 text, images.

The readers of both datasets go through these helpers instead of ``open``, ``read_text`` or
``Image.open``, because the errors those raise (``IsADirectoryError``, ``UnicodeDecodeError``,
``OSError: image file is truncated``) either do not name the file or do not say what is wrong
with it in terms a user can fix.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from fixate.data.errors import RawDataError

SNIPPET_CHARS = 40


def regular_file(path: str | Path) -> Path:
    """``path``, checked to be an existing regular file (a folder in its place is named too)."""
    path = Path(path)
    if not path.exists():
        raise RawDataError(path, None, None, "file not found")
    if not path.is_file():
        raise RawDataError(path, None, None, "not a regular file")
    return path


def read_bytes(path: str | Path) -> bytes:
    """The whole file; a missing, non-regular or unreadable file is a :class:`RawDataError`."""
    path = regular_file(path)
    try:
        return path.read_bytes()
    except OSError as err:
        raise RawDataError(path, None, None, f"cannot be read ({err.strerror})") from err


def utf8_error(
    path: str | Path, data: bytes, header: Sequence[str] | None = None
) -> RawDataError | None:
    """The first byte sequence of ``data`` that is not UTF-8, as an error naming its line, and
    its column when ``header`` (of a CSV file) is given; None when ``data`` is valid UTF-8.

    Both datasets are UTF-8; a file re-saved by a spreadsheet as Latin-1 or Windows-1252 decodes
    wrongly everywhere, so it is refused with the offending text shown as Latin-1 would read it.
    """
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as err:
        start = err.start
    line_start = data.rfind(b"\n", 0, start) + 1
    line_end = data.find(b"\n", start)
    line = data[line_start : len(data) if line_end < 0 else line_end]
    column = None
    if header is not None and line_start > 0:
        before = data[line_start:start].decode("latin-1")
        fields = next(csv.reader([before]), [""])
        if len(fields) <= len(header):
            column = header[len(fields) - 1]
    offset = start - line_start
    snippet = line[max(0, offset - SNIPPET_CHARS // 2) : offset + SNIPPET_CHARS // 2]
    return RawDataError(
        path,
        data.count(b"\n", 0, start) + 1,
        column,
        f"not UTF-8 text: byte 0x{data[start]:02x} in {snippet.decode('latin-1')!r} (as "
        "Latin-1 reads it); this is an encoding problem: save the file as UTF-8",
    )


def read_text(path: str | Path) -> str:
    """The file as UTF-8 text; bytes that are not UTF-8 are an error naming their line."""
    data = read_bytes(path)
    problem = utf8_error(path, data)
    if problem is not None:
        raise problem
    return data.decode("utf-8")


@contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """An image opened for reading; a missing, unknown, truncated or corrupt file, found when it
    is opened or decoded inside the block, is a :class:`RawDataError` naming it.

    Keep the block to decoding (``convert``, ``crop``, ``size``): any ``OSError`` raised in it is
    reported as a problem of this image.
    """
    path = regular_file(path)
    try:
        with Image.open(path) as image:
            yield image
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise RawDataError(path, None, None, f"not a readable image ({err})") from err
