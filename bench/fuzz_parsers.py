"""Seeded mutations of real inputs given to kbgen's parsers, each in its own process under memory and time limits.

    python bench/fuzz_parsers.py [--inputs 2000] [--seed 1] [--parser btf|bpf|kimage ...] [--jobs N] [--keep DIR]

Parsers and their seeds:

* btf: ``parse_btf``, every type decoded, ``build_items`` (helpers, enums, kfunc prototypes); seeds are
  /sys/kernel/btf/vmlinux (when present), the tests' kernel BTF, and the .BTF of every tests/bpf object.
* bpf: ``parse_object`` (ELF, BTF, BTF.ext, instructions, calls, maps); seeds are tests/bpf/*.bpf.o
  (``make -C tests/bpf`` builds them; the checked-in ones serve).
* kimage: ``read_kernel_btf`` and its items; seeds are built here: an x86 bzImage in each of the six codecs,
  a compressed vmlinux in each, raw BTF, an ELF vmlinux, .btf.tar.xz and .tar.gz, an arm64 Image, Image.gz and
  zboot.  Half the mutations damage the file as it is, half damage what is inside (the vmlinux, the BTF) and
  wrap it again, so that the damage reaches past the codecs.

Mutations: bit flips, bytes set to random or boundary values, 4- and 8-byte words set to boundary integers
(0, -1, 2**31, the input's length...), truncation, a chunk deleted, duplicated or spliced from another seed.
Input *i* of a parser is made by ``random.Random(f"{seed}:{parser}:{i}")``: every input can be made again.

Each input runs in a forked child with RLIMIT_AS (--memory, 3 GiB) and a --timeout (20 s: SIGALRM and
RLIMIT_CPU).  Outcomes: ``ok`` (parsed), ``clean`` (the parser's own one-line error), ``traceback`` (any other
exception), ``hang`` (killed by the timeout), ``memory`` (MemoryError, killed, or a peak RSS above
--rss-limit, 1 GiB).  Only the first two are acceptable; the others are listed with the input's number (and
kept under --keep) so that each can be replayed: ``--parser P --only I``.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import io
import json
import lzma
import os
import random
import resource
import signal
import struct
import sys
import tarfile
import time
import traceback
from collections import Counter

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from btfbuild import CODECS, compress, kernel_btf, make_bzimage, make_vmlinux, size_append

from kb.formats.bpf.elfobject import read_object
from kb.formats.btf.kernel import build_items
from kb.formats.btf.reader import BTFError, parse_btf
from kb.formats.kimage import read_kernel_btf
from kb.vocab.errors import KbgenError

SYS_BTF = "/sys/kernel/btf/vmlinux"
BOUNDARY = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF,
            0x7FFFFFFFFFFFFFFF, 24, 4096, 1 << 20)
OUTCOMES = ("ok", "clean", "traceback", "hang", "memory")


# Seeds.

def btf_seeds() -> list[bytes]:
    from elftools.elf.elffile import ELFFile

    seeds = [kernel_btf(), kernel_btf(byte_order=">")]
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "bpf", "*.bpf.o"))):
        with open(path, "rb") as handle:
            section = ELFFile(io.BytesIO(handle.read())).get_section_by_name(".BTF")
            if section is not None:
                seeds.append(section.data())
    if os.path.exists(SYS_BTF):
        with open(SYS_BTF, "rb") as handle:
            seeds.append(handle.read())
    return seeds


def bpf_seeds() -> list[bytes]:
    paths = sorted(glob.glob(os.path.join(ROOT, "tests", "bpf", "*.bpf.o")))
    if not paths:
        sys.exit("no tests/bpf/*.bpf.o: run make -C tests/bpf")
    return [open(path, "rb").read() for path in paths]


def _arm64_image(btf: bytes) -> bytes:
    head = bytearray(64)
    head[0x38:0x3C] = b"ARM\x64"
    return bytes(head) + b"\x11" * 256 + btf + b"\0" * 16 + b"Linux version 6.1.0-fuzz (x@y) #1\n\0"


def _zboot(payload: bytes, codec: str = "gzip") -> bytes:
    head = bytearray(0x200)
    head[0:4], head[4:8] = b"MZ\0\0", b"zimg"
    struct.pack_into("<II", head, 8, len(head), len(payload))
    head[0x18 : 0x18 + len(codec)] = codec.encode()
    return bytes(head) + payload


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wrap(kind: str, inner: bytes) -> bytes:
    """A kernel image of *kind* around *inner* (a vmlinux for bzImage and compressed kinds, else BTF)."""
    codec = kind.split(":")[1] if ":" in kind else None
    if kind.startswith("bzimage:"):
        return make_bzimage(compress(codec, inner) + size_append(inner))
    if kind.startswith("compressed:"):
        return compress(codec, inner)
    return {
        "btf": lambda: inner,
        "elf": lambda: make_vmlinux(inner),
        "tar.xz": lambda: lzma.compress(_tar("./5.4.0-1009-aws.btf", inner)),
        "tar.gz": lambda: gzip.compress(_tar("6.1.0-13-amd64.btf", inner), mtime=0),
        "image": lambda: _arm64_image(inner),
        "image.gz": lambda: gzip.compress(_arm64_image(inner), mtime=0),
        "zboot": lambda: _zboot(gzip.compress(_arm64_image(inner), mtime=0)),
    }[kind]()


def kimage_kinds() -> list[str]:
    kinds = [f"bzimage:{c}" for c in CODECS] + [f"compressed:{c}" for c in CODECS]
    return kinds + ["btf", "elf", "tar.xz", "tar.gz", "image", "image.gz", "zboot"]


# Mutations.

def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 5, 8))):
        if not out:
            out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            continue
        how = rng.randrange(8)
        at = rng.randrange(len(out))
        if how == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif how == 1:
            out[at] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif how in (2, 3):
            width, order = rng.choice((4, 8)), rng.choice("<>")
            value = rng.choice(BOUNDARY + (len(out), len(out) + 1, rng.randrange(1 << 32)))
            at -= at % width
            if at + width <= len(out):
                struct.pack_into(order + ("I" if width == 4 else "Q"), out, at, value & ((1 << (8 * width)) - 1))
        elif how == 4:
            del out[rng.randrange(len(out)) :]
        elif how == 5:
            del out[at : at + rng.randrange(1, 256)]
        elif how == 6:
            out[at:at] = out[at : at + rng.randrange(1, 256)] * rng.randrange(1, 4)
        else:
            other = rng.choice(others)
            start = rng.randrange(max(1, len(other)))
            out[at : at + rng.randrange(1, 128)] = other[start : start + rng.randrange(1, 128)]
    return bytes(out)


def make_input(parser: str, seeds, rng: random.Random) -> bytes:
    if parser != "kimage":
        return mutate(rng.choice(seeds), rng, seeds)
    kind = rng.choice(kimage_kinds())
    inner = make_vmlinux(seeds[0]) if kind.startswith(("bzimage", "compressed")) else seeds[0]
    if rng.random() < 0.5:
        return wrap(kind, mutate(inner, rng, seeds))  # damage that reaches past the codec
    return mutate(wrap(kind, inner), rng, seeds)


# Running one input.

def parse(parser: str, path: str) -> None:
    if parser == "btf":
        with open(path, "rb") as handle:
            btf = parse_btf(handle.read())
        btf.types  # noqa: B018 - every type decoded
        build_items(btf)
    elif parser == "bpf":
        read_object(path)
    else:
        read_kernel_btf(path).items()


def child(parser: str, path: str, report: int, timeout: int, memory: int) -> None:
    """In the forked child: limits, then the parser; the outcome as one JSON line on *report*."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (timeout, timeout + 5))
    signal.alarm(timeout)
    clean = (KbgenError, BTFError) if parser == "btf" else (KbgenError,)
    try:
        parse(parser, path)
        outcome = {"outcome": "ok"}
    except MemoryError:
        outcome = {"outcome": "memory", "detail": "MemoryError"}
    except clean as err:
        text = str(err)
        if "\n" in text.strip():
            outcome = {"outcome": "traceback", "detail": f"a message of several lines: {text[:200]!r}"}
        else:
            outcome = {"outcome": "clean", "detail": text[:200]}
    except BaseException as err:  # noqa: BLE001 - what the bench is here to find
        frame = traceback.extract_tb(err.__traceback__)[-1]
        outcome = {"outcome": "traceback",
                   "detail": f"{type(err).__name__}: {str(err)[:160]} at {frame.filename}:{frame.lineno}"}
    os.write(report, (json.dumps(outcome) + "\n").encode())
    os._exit(0)


def run_parser(parser: str, options) -> Counter:
    seeds = {"btf": btf_seeds, "bpf": bpf_seeds, "kimage": lambda: [kernel_btf()]}[parser]()
    workdir = options.keep or f"/tmp/kbgen-fuzz-{os.getpid()}"
    os.makedirs(workdir, exist_ok=True)
    indexes = [options.only] if options.only is not None else list(range(options.inputs))
    counts: Counter = Counter()
    bad: list[str] = []
    running: dict[int, tuple[int, str, int, float]] = {}  # pid -> (index, path, read end, started)
    slowest = (0.0, -1)
    started = time.perf_counter()

    def reap() -> None:
        nonlocal slowest
        pid, status, usage = os.wait4(-1, 0)
        index, path, read_end, began = running.pop(pid)
        seconds = time.perf_counter() - began
        slowest = max(slowest, (seconds, index))
        with os.fdopen(read_end) as handle:
            line = handle.read().strip()
        rss = usage.ru_maxrss * 1024
        if line:
            result = json.loads(line)
        elif os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGALRM, signal.SIGXCPU):
            result = {"outcome": "hang", "detail": f"killed after {seconds:.0f} s"}
        else:
            result = {"outcome": "memory", "detail": f"died: status {status:#x}, peak RSS {rss >> 20} MiB"}
        if result["outcome"] in ("ok", "clean") and rss > options.rss_limit:
            result = {"outcome": "memory", "detail": f"peak RSS {rss >> 20} MiB"}
        counts[result["outcome"]] += 1
        if result["outcome"] not in ("ok", "clean"):
            bad.append(f"  {parser} #{index}: {result['outcome']}: {result.get('detail', '')}")
        elif not options.keep:
            os.unlink(path)

    for index in indexes:
        rng = random.Random(f"{options.seed}:{parser}:{index}")
        path = os.path.join(workdir, f"{parser}-{index}")
        with open(path, "wb") as handle:
            handle.write(make_input(parser, seeds, rng))
        while len(running) >= options.jobs:
            reap()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            try:
                child(parser, path, write_end, options.timeout, options.memory)
            finally:
                os._exit(3)
        os.close(write_end)
        running[pid] = (index, path, read_end, time.perf_counter())
    while running:
        reap()
    seconds = time.perf_counter() - started
    print(f"{parser:7} {len(indexes):6} inputs ({len(seeds)} seeds) in {seconds:6.1f} s: "
          + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES) + f"; slowest #{slowest[1]} {slowest[0]:.2f} s")
    for line in bad[:30]:
        print(line)
    if not options.keep:
        try:
            os.rmdir(workdir)
        except OSError:
            pass
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=2000, help="inputs per parser (default 2000)")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--parser", action="append", choices=("btf", "bpf", "kimage"),
                        help="parser to fuzz; repeat for several (default: all three)")
    parser.add_argument("--only", type=int, help="run this input number alone (to replay one)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=20, help="seconds per input")
    parser.add_argument("--memory", type=int, default=3 << 30, help="RLIMIT_AS per input, bytes")
    parser.add_argument("--rss-limit", type=int, default=1 << 30, help="peak RSS above which an input blew up")
    parser.add_argument("--keep", help="directory to write the inputs in, and keep them")
    options = parser.parse_args()
    total: Counter = Counter()
    for name in options.parser or ["btf", "bpf", "kimage"]:
        total += run_parser(name, options)
    print("all    : " + ", ".join(f"{total[o]} {o}" for o in OUTCOMES))
    sys.exit(1 if any(total[o] for o in ("traceback", "hang", "memory")) else 0)


if __name__ == "__main__":
    main()
