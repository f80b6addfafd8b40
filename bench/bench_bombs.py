"""Decompression bombs given to `kbgen probe`: each refused with one line, in time and memory bounded by the limit.

    python bench/bench_bombs.py [--gib 1] [--kernel BZIMAGE] [--keep DIR]

Builds, in every codec the kernel uses, a file of --gib GiB of zeros (zstd and lz4 also at 8 GiB: they cost
nothing to build), a zstd frame of 8 GiB in RLE blocks and one whose header declares 8 GiB, a real x86 bzImage
whose payload is replaced by such a bomb (its size trailer honest, then lying small), and a BTFHub-style
.btf.tar.xz whose member GNU tar stored sparse: 4 KiB of the running kernel's BTF, then a 10 GiB hole.  The
bzImage is --kernel, else /boot/vmlinuz-$(uname -r) or another /boot/vmlinuz-*; without one its rows are left
out (and said so).  Everything is built here with the standard library, lz4, zstandard and tar.

Each bomb is given to ``python -m kb probe FILE --db TMP`` in a child process; the table shows its exit status,
wall time, peak RSS (the child's own, from wait4) and its one line of error.  Every row should say exit 2, one
line, a time proportional to kbgen's limit (kb/formats/kimage/enums.py MAX_SIZE: 512 MiB), and a peak RSS of
about the limit plus the interpreter at most.  A bomb's cost does not grow with its size past the limit.
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

from kernel_inputs import LZ4_LEGACY_CHUNK, BzImage, find_bzimage, lz4_legacy, with_size

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SYS_BTF = "/sys/kernel/btf/vmlinux"
ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)
ZSTD_BLOCK = 128 << 10  # the largest block a zstd frame may hold (RFC 8878, Block_Maximum_Size)
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


def lz4_bomb(size: int) -> bytes:
    """A legacy lz4 frame of *size* zero bytes: one 8 MiB block of zeros, compressed once and repeated."""
    frame = lz4_legacy(bytes(LZ4_LEGACY_CHUNK))
    return frame[:4] + frame[4:] * (size // LZ4_LEGACY_CHUNK)


def zstd_rle(size: int, declared: int | None = None) -> bytes:
    """A zstd frame of *size* zero bytes in RLE blocks (4 bytes each 128 KiB), valid to its end; *declared*: the
    content size its header states (else none, as the kernel's build writes it).  Window 2**(10+7)."""
    if declared is None:
        header = ZSTD_MAGIC + bytes([0x00, 7 << 3])
    else:
        header = ZSTD_MAGIC + bytes([0xC0, 7 << 3]) + struct.pack("<Q", declared)  # an 8-byte Frame_Content_Size
    whole, rest = divmod(size, ZSTD_BLOCK)
    lengths = [ZSTD_BLOCK] * whole + [rest] * bool(rest)
    # Block_Header: Last_Block (bit 0), Block_Type 1 = RLE (bits 1-2), Block_Size (bits 3-23); then the byte
    blocks = ((int(n == len(lengths) - 1) | 1 << 1 | length << 3).to_bytes(3, "little") + b"\0"
              for n, length in enumerate(lengths))
    return header + b"".join(blocks)


def sparse_btf_tar(workdir: str, size: int) -> bytes:
    """BTFHub's archive (./<release>.btf in a .tar.xz) made by GNU tar --sparse from a *size*-byte file that holds
    the running kernel's BTF (its first 4 KiB) and then a hole."""
    name = "5.4.0-1009-aws.btf"
    path = os.path.join(workdir, name)
    with open(path, "wb") as handle:
        if os.path.exists(SYS_BTF):
            with open(SYS_BTF, "rb") as btf:
                handle.write(btf.read(4096))
        handle.truncate(size)
    try:
        tar = subprocess.run(["tar", "--sparse", "--format=gnu", "-C", workdir, "-cf", "-", f"./{name}"],
                             check=True, stdout=subprocess.PIPE).stdout
    finally:
        os.unlink(path)
    return lzma.compress(tar, format=lzma.FORMAT_XZ)


def bombs(gib: float, workdir: str, kernel: str | None) -> dict[str, bytes]:
    size = int(gib * (1 << 30))
    found = {f"{codec}, {gib:g} GiB": stream_bomb(codec, size) for codec in ("gzip", "xz", "lzma", "bzip2", "zstd")}
    found[f"lz4 legacy, {gib:g} GiB"] = lz4_bomb(size)
    found["lz4 legacy, 8 GiB"] = lz4_bomb(8 << 30)
    found["zstd RLE blocks, 8 GiB"] = zstd_rle(8 << 30)
    found["zstd header says 8 GiB"] = zstd_rle(1 << 20, declared=8 << 30)
    if kernel:
        carrier, gzip_bomb = BzImage(kernel), found[f"gzip, {gib:g} GiB"]
        found["bzImage, gzip payload, trailer honest"] = carrier.carrying(with_size(gzip_bomb, min(size, 0xFFFFFFFF)))
        found["bzImage, gzip payload, trailer says 60 MB"] = carrier.carrying(with_size(gzip_bomb, 60 << 20))
    found["btf.tar.xz, 10 GiB sparse member"] = sparse_btf_tar(workdir, 10 << 30)
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0, help="size of the stdlib codecs' bombs (default 1 GiB)")
    parser.add_argument("--kernel", metavar="BZIMAGE",
                        help="a real x86 bzImage to carry the bzImage bombs (default: /boot/vmlinuz-$(uname -r) "
                             "or another /boot/vmlinuz-*)")
    parser.add_argument("--keep", help="directory to leave the bombs in")
    options = parser.parse_args()
    workdir = options.keep or tempfile.mkdtemp(prefix="kbgen-bombs-")
    os.makedirs(workdir, exist_ok=True)
    kernel = find_bzimage(options.kernel)
    started = time.perf_counter()
    built = bombs(options.gib, workdir, kernel)
    print(f"built {len(built)} bombs in {time.perf_counter() - started:.1f} s (in {workdir})")
    print(f"bzImage bombs: in the boot setup of {kernel}" if kernel else
          "bzImage bombs: left out, no x86 bzImage in /boot (pass --kernel BZIMAGE)")
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
