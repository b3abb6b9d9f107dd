"""The dump file's framing: a gzip stream of typed frames, ending with a SHA-256.

::

    gzip(
        b"TENANCY-DUMP\\n"
        frame*            kind (1 byte), length (4 bytes, big-endian), payload
        b"Z" 32 SHA-256   of every byte before it (magic and frames, uncompressed)
    )

A reader checks each frame's length against what is left, the digest at the end and
gzip's own CRC, so a truncated or corrupt file is refused however it was damaged.
Frames are at most :data:`CHUNK` bytes of table data, so reading and writing take
constant memory whatever the size of the tenant.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import zlib
from typing import IO, Any

from ..exceptions import InvalidDumpFile

MAGIC = b"TENANCY-DUMP\n"
#: Bytes of COPY data per frame.
CHUNK = 1 << 20
_HEAD = struct.Struct(">cI")
_END = b"Z"


class FrameWriter:
    """Writes frames into ``raw`` (a binary file), compressed; :meth:`close` seals it."""

    def __init__(self, raw: IO[bytes], *, compresslevel: int = 1) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel, mtime=0)
        self._digest = hashlib.sha256()
        self._write(MAGIC)

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        self._digest.update(data)
        self._gzip.write(data)

    def frame(self, kind: bytes, payload: bytes | bytearray | memoryview) -> None:
        self._write(_HEAD.pack(kind, len(payload)))
        self._write(payload)

    def json(self, kind: bytes, value: Any) -> None:
        self.frame(kind, json.dumps(value, separators=(",", ":")).encode())

    def close(self) -> None:
        digest = self._digest.digest()
        self._gzip.write(_HEAD.pack(_END, len(digest)) + digest)
        self._gzip.close()


class FrameReader:
    """Reads the frames of a dump from ``raw``; every damage is an :class:`InvalidDumpFile`."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self._digest = hashlib.sha256()
        #: the end frame's checksum matched (:meth:`finish`)
        self.verified = False
        magic = self._read(len(MAGIC), "the file's start")
        if magic != MAGIC:
            raise InvalidDumpFile("This is not a tenant dump (made by `manage.py dump_tenant`).")

    def _read(self, size: int, what: str) -> bytes:
        try:
            data = self._gzip.read(size)
        except EOFError as exc:  # the compressed stream stops short
            raise InvalidDumpFile(f"The dump file is truncated ({what}): {exc}.") from exc
        except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise InvalidDumpFile(f"The dump file is damaged ({what}): {exc}.") from exc
        if len(data) != size:
            raise InvalidDumpFile(f"The dump file is truncated ({what} is incomplete).")
        self._digest.update(data)
        return data

    def next(self) -> tuple[bytes, bytes]:
        """The next frame's kind and payload (the end frame is checked by :meth:`finish`)."""
        kind, length = _HEAD.unpack(self._read(_HEAD.size, "a frame header"))
        if kind == _END:
            raise InvalidDumpFile("The dump file ends before its last table or sequence.")
        if length > 4 * CHUNK:
            raise InvalidDumpFile(f"The dump file is damaged (a frame of {length} bytes).")
        return kind, self._read(length, "a frame")

    def expect(self, kind: bytes) -> bytes:
        found, payload = self.next()
        if found != kind:
            raise InvalidDumpFile(
                f"The dump file is damaged: found a {found!r} frame where {kind!r} belongs."
            )
        return payload

    def json(self, kind: bytes) -> Any:
        payload = self.expect(kind)
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise InvalidDumpFile(f"The dump file is damaged (unreadable {kind!r} frame).") from exc

    def finish(self) -> None:
        """Check the end frame's digest and that nothing follows (gzip's CRC included)."""
        expected = self._digest.digest()
        kind, length = _HEAD.unpack(self._read(_HEAD.size, "the end"))
        self._check_end(expected, kind, length)

    def damage(self) -> InvalidDumpFile | None:
        """After a failure part-way: read the rest of the file and check it as
        :meth:`finish` would, returning what is wrong with it (``None``: nothing).

        A restore acts on each frame as it arrives (the rows, the sequences) and the
        checksum comes last, so a damaged byte can first show as a database error (a
        sequence name that does not exist); this tells the two apart. It reads whole
        frames only: call it between frames, as a restore's failure always is.
        """
        if self.verified:
            return None
        try:
            while True:
                expected = self._digest.digest()
                kind, length = _HEAD.unpack(self._read(_HEAD.size, "a frame header"))
                if kind == _END:
                    self._check_end(expected, kind, length)
                    return None
                if length > 4 * CHUNK:
                    raise InvalidDumpFile(f"The dump file is damaged (a frame of {length} bytes).")
                self._read(length, "a frame")
        except InvalidDumpFile as exc:
            return exc

    def _check_end(self, expected: bytes, kind: bytes, length: int) -> None:
        digest = self._read(length, "the end") if kind == _END and length == 32 else b""
        if digest != expected:
            raise InvalidDumpFile("The dump file is damaged: its checksum does not match.")
        try:
            rest = self._gzip.read(1)
        except EOFError as exc:
            raise InvalidDumpFile(f"The dump file is truncated (its end): {exc}.") from exc
        except (OSError, zlib.error) as exc:
            raise InvalidDumpFile(f"The dump file is damaged (its end): {exc}.") from exc
        if rest:
            raise InvalidDumpFile("The dump file has data after its end.")
        self.verified = True
