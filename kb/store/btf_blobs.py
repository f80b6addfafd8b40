"""The BTF of a build tree, kept beside its facts in the user's database (compressed), for what the facts do not
hold: ``kbgen scan --tree BUILD`` resolves CO-RE relocations and existence guards against it.

A table of its own (``btf_blobs``), created on first write, so the facts' schema is untouched: a database without
it simply has no BTF for any build.  One row per tree: the raw BTF compressed with zlib, its size and SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import zlib

from kb.vocab.errors import KbgenError

TABLE = "btf_blobs"
MAX_BTF = 256 << 20  # bytes of raw BTF kept or read back: a vmlinux's is 5-8 MiB
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (tree TEXT PRIMARY KEY, size INTEGER NOT NULL, "
           "sha256 TEXT NOT NULL, data BLOB NOT NULL)")


class BlobError(KbgenError):
    pass


def save(path: str, tree: str, btf: bytes) -> None:
    """Keep *btf* (raw BTF) as the BTF of build *tree* in the database at *path*."""
    if len(btf) > MAX_BTF:
        raise BlobError(f"{path}: BTF of {tree} is {len(btf)} bytes, over {MAX_BTF}")
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(_CREATE)
            conn.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?)",
                         (tree, len(btf), hashlib.sha256(btf).hexdigest(), zlib.compress(btf, 6)))
    except sqlite3.Error as err:
        raise BlobError(f"{path}: cannot keep the BTF of {tree} ({err})") from None
    finally:
        conn.close()


def load(path: str | None, tree: str) -> bytes | None:
    """The raw BTF kept for *tree*; None when the database keeps none (or does not exist)."""
    if not path or not os.path.exists(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute(f"SELECT size, sha256, data FROM {TABLE} WHERE tree = ?", (tree,)).fetchone()
    except sqlite3.OperationalError:  # no such table: nothing kept
        return None
    finally:
        conn.close()
    if row is None:
        return None
    size, digest, data = row
    decompressor = zlib.decompressobj()
    try:
        btf = decompressor.decompress(data, min(size, MAX_BTF) + 1)
    except zlib.error as err:
        raise BlobError(f"{path}: the BTF kept for {tree} is damaged ({err})") from None
    if len(btf) != size or hashlib.sha256(btf).hexdigest() != digest:
        raise BlobError(f"{path}: the BTF kept for {tree} is damaged (size or digest differs)")
    return btf


def trees(path: str | None) -> list[str]:
    if not path or not os.path.exists(path):
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [tree for (tree,) in conn.execute(f"SELECT tree FROM {TABLE} ORDER BY tree")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
