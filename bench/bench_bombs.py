"""Decompression bombs given to `kbgen probe`: each refused with one line, in time and memory bounded by the limit.

    python bench/bench_bombs.py [--gib 1] [--keep DIR]

Builds, in every codec the kernel uses, a file of --gib GiB of zeros (zstd and lz4 also at 8 GiB: they cost
nothing to build), an x86 bzImage whose payload is such a bomb (its size trailer honest, then lying small), a
zstd frame whose header declares 8 GiB, and a BTFHub-style .btf.tar.xz with a 10 GiB sparse member.  Each is
given to ``python -m kb probe FILE --db TMP`` in a child process; the table shows its exit status, wall time,
peak RSS (the child's own, from wait4) and its one line of error.  Every row should say exit 2, one line, a
time proportional to kbgen's limit (kb/formats/kimage/enums.py MAX_SIZE: 512 MiB), and a peak RSS of about
the limit plus the interpreter at most.  A bomb's cost does not grow with its size past the limit.
"""

from __future__ import annotations

import argparse
import bz2
import lzma
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from btfbuild import kernel_btf, make_bzimage
from hostile import lz4_legacy_bomb, sparse_tar, zstd_rle_bomb

_STEP = 64 << 20


def stream_bomb(codec: str, size: int) -> bytes:
    """*size* zero bytes through a stdlib or zstandard compressor, a step at a time (the bench stays small)."""
    if codec == "zstd":
        import zstandard

        compressor = zstandard.ZstdCompressor(level=3, write_content_size=False).compressobj()
    else:
        compressor = {
            "gzip": lambda: zlib.compressobj(9, zlib.DEFLATED, 31),
            "xz": lambda: lzma.LZMACompressor(lzma.FORMAT_XZ, preset=0),
            "lzma": lambda: lzma.LZMACompressor(lzma.FORMAT_ALONE, preset=0),
            "bzip2": lambda: bz2.BZ2Compressor(9),
        }[codec]()
    zeros = bytes(_STEP)
    out = bytearray()
    for _ in range(size // _STEP):
        out += compressor.compress(zeros)
    return bytes(out + compressor.flush())


def bombs(gib: float) -> dict[str, bytes]:
    size = int(gib * (1 << 30))
    found = {f"{codec}, {gib:g} GiB": stream_bomb(codec, size) for codec in ("gzip", "xz", "lzma", "bzip2", "zstd")}
    found[f"lz4 legacy, {gib:g} GiB"] = lz4_legacy_bomb(size)
    found["lz4 legacy, 8 GiB"] = lz4_legacy_bomb(8 << 30)
    found["zstd RLE blocks, 8 GiB"] = zstd_rle_bomb(8 << 30)
    found["zstd header says 8 GiB"] = zstd_rle_bomb(1 << 20, declared=8 << 30)
    gzip_payload = found[f"gzip, {gib:g} GiB"]
    found["bzImage, gzip payload, trailer honest"] = make_bzimage(gzip_payload + struct.pack("<I", size % (1 << 32)
                                                                                          or 0xFFFFFFFF))
    found["bzImage, gzip payload, trailer says 60 MB"] = make_bzimage(gzip_payload + struct.pack("<I", 60 << 20))
    tar = sparse_tar("./5.4.0-1009-aws.btf", kernel_btf()[:512], 10 << 30)
    found["btf.tar.xz, 10 GiB sparse member"] = lzma.compress(tar, format=lzma.FORMAT_XZ)
    return found


def run(path: str, db: str) -> tuple[int, float, int, str]:
    """(exit status, seconds, peak RSS in bytes, stderr) of `kbgen probe path`."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "kb", "probe", path, "--db", db], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = child.stderr.read().decode(errors="replace")
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, time.perf_counter() - started, usage.ru_maxrss * 1024, stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the stdlib codecs' bombs (default 1 GiB)")
    parser.add_argument("--keep", help="directory to leave the bombs in")
    options = parser.parse_args()
    workdir = options.keep or tempfile.mkdtemp(prefix="kbgen-bombs-")
    os.makedirs(workdir, exist_ok=True)
    started = time.perf_counter()
    built = bombs(options.gib)
    print(f"built {len(built)} bombs in {time.perf_counter() - started:.1f} s (in {workdir})")
    baseline = run(os.devnull, os.path.join(workdir, "kb.db"))
    print(f"baseline: probe of an empty file, {baseline[1]:.2f} s, peak RSS {baseline[2] / 1e6:.0f} MB")
    print(f"{'input':44} {'file':>10} {'exit':>4} {'time':>7} {'peak RSS':>9}  message")
    failed = 0
    for n, (label, data) in enumerate(built.items()):
        path = os.path.join(workdir, f"bomb{n}")
        with open(path, "wb") as handle:
            handle.write(data)
        status, seconds, rss, stderr = run(path, os.path.join(workdir, "kb.db"))
        lines = [line for line in stderr.splitlines() if line.strip()]
        ok = status == 2 and len(lines) == 1
        failed += not ok
        message = lines[0] if len(lines) == 1 else f"{len(lines)} lines: {stderr[-300:]!r}"
        print(f"{label:44} {len(data) / 1e3:8.0f}KB {status:>4} {seconds:6.2f}s {rss / 1e6:7.0f}MB  "
              f"{message.replace(path, 'FILE')[:150]}")
        if not options.keep:
            os.unlink(path)
    if os.path.exists(os.path.join(workdir, "kb.db")):
        print("a database was left behind")
        failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
