"""A minimal newc cpio writer, so device nodes go into the initramfs without mknod or root."""

import gzip
import stat


class CpioWriter:
    def __init__(self):
        self._chunks = []
        self._size = 0
        self._ino = 1
        self._seen = set()

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev=(0, 0), nlink=1) -> None:
        name = name.lstrip("/")
        if name in self._seen:
            return
        self._seen.add(name)
        fields = [self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
        self._ino += 1
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._append(hdr + name.encode() + b"\0")
        self._append(data)

    def _append(self, chunk: bytes) -> None:
        """Header+name and data are each padded to 4 bytes, as newc requires."""
        chunk += b"\0" * (-(self._size + len(chunk)) % 4)
        self._chunks.append(chunk)
        self._size += len(chunk)

    def dir(self, name: str) -> None:
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self._entry("/".join(parts[:i]), stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        parent = name.strip("/").rpartition("/")[0]
        if parent:
            self.dir(parent)
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def gzipped(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return gzip.compress(b"".join(self._chunks), compresslevel=1, mtime=0)
