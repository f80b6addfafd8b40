"""Reading a build's BTF, as ``kbgen probe`` does, against ``bpftool btf dump file X format raw`` of the same file.

    python bench/bench_probe_speed.py [--image PATH]... [--rounds 3] [--probe] [--keep DIR]

Inputs, each written as a raw BTF file that both tools read:

* this machine's ``/sys/kernel/btf/vmlinux``;
* the BTF of each ``--image`` (a Debian 7.2 ``boot/vmlinuz-*`` from ``apt-get download linux-binary-<release>``
  and ``dpkg-deb -x``, or any image ``kbgen probe`` reads);
* BTF that is not deduplicated, built here: the vmlinux's type graph repeated 1, 2, 4 and 8 times (the last
  >= 25 MB), each copy's type ids shifted past the previous ones, as pahole writes one graph per compilation
  unit without deduplication; names are shared through one string section, as pahole's are;
* the largest enum BTF allows: ``bpf_prog_type`` with 65,535 enumerators, names repeated, every value twice.

Each figure is a whole process (start-up and imports included), best of --rounds, rounds interleaved so both
tools see the same machine: wall seconds and peak RSS (``wait4``).  kbgen's process reads the file as
``kbgen probe`` does (``read_kernel_btf(path).items()``: header, type walk, enums, kfunc tags and prototypes).
Targets: kbgen no slower than bpftool on every real-sized input, peak RSS under 80 MiB everywhere, CPU per MB
flat across the non-deduplicated series (linear time).  The 65,535 enumerators are a stress input: 1.6 MB that
bpftool dumps in some 40 ms, less than Python's start-up and imports; its time is reported, the RSS targeted.  ``--probe`` also times the whole ``kbgen probe FILE --db NEW`` (the
knowledge base's storing of the items included).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

VMLINUX = "/sys/kernel/btf/vmlinux"
TARGET_RSS_MIB = 80
NOT_DEDUPLICATED_MB = 25
ENUMERATORS = 0xFFFF

# BTF layout (include/uapi/linux/btf.h), written out here for building inputs: kind -> (words after the 3-word
# btf_type, words per vlen member, word positions of type ids in that data or in each member).
HEADER = struct.Struct("<HBBIIIII")
_PTR, _ARRAY, _STRUCT, _UNION, _ENUM = 2, 3, 4, 5, 6
_FUNC_PROTO, _DATASEC, _ENUM64 = 13, 15, 19
_REFERENCE = {2, 8, 9, 10, 11, 12, 13, 14, 17, 18}  # the third word is a type id
_DATA = {1: (1, 0, ()), _ARRAY: (3, 0, (0, 1)), _STRUCT: (0, 3, (1,)), _UNION: (0, 3, (1,)), _ENUM: (0, 2, ()),
         _FUNC_PROTO: (0, 2, (1,)), 14: (1, 0, ()), _DATASEC: (0, 3, (0,)), 17: (1, 0, ()), _ENUM64: (0, 3, ())}


def type_id_words(words) -> tuple[int, list[int]]:
    """(number of types, word indexes in the type section that hold a type id)."""
    at, count, found = 0, 0, []
    while at < len(words):
        info = words[at + 1]
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        if kind in _REFERENCE:
            found.append(at + 2)
        fixed, per, ids = _DATA.get(kind, (0, 0, ()))
        data = at + 3
        if per:
            found += [data + member * per + i for member in range(vlen) for i in ids]
        else:
            found += [data + i for i in ids]
        at = data + fixed + per * vlen
        count += 1
    return count, found


def not_deduplicated(btf: bytes, copies: int) -> bytes:
    """*btf*'s types *copies* times over, ids of copy k shifted by k times the number of types."""
    from array import array

    _magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = HEADER.unpack_from(btf)
    if btf[:2] != b"\x9f\xeb":
        sys.exit("building the non-deduplicated BTF needs a little-endian BTF")
    words = array("I", btf[hdr_len + type_off : hdr_len + type_off + type_len])
    count, positions = type_id_words(words)
    section = bytearray(words.tobytes())
    for copy in range(1, copies):
        shifted = array("I", words)
        for at in positions:
            if shifted[at]:
                shifted[at] += copy * count
        section += shifted.tobytes()
    strings = btf[hdr_len + str_off : hdr_len + str_off + str_len]
    return HEADER.pack(0xEB9F, 1, 0, HEADER.size, 0, len(section), len(section), len(strings)) + section + strings


def many_enumerators() -> bytes:
    """An int and bpf_prog_type with 65,535 enumerators: names repeat after 50,000, each value has two names."""
    strings = bytearray(b"\0")
    offsets: dict[str, int] = {}

    def name(text: str) -> int:
        if text not in offsets:
            offsets[text] = len(strings)
            strings.extend(text.encode() + b"\0")
        return offsets[text]

    types = bytearray(struct.pack("<IIII", name("int"), 1 << 24, 4, 1 << 24 | 32))
    types += struct.pack("<III", name("bpf_prog_type"), _ENUM << 24 | ENUMERATORS, 4)
    for i in range(ENUMERATORS):
        types += struct.pack("<Ii", name(f"BPF_PROG_TYPE_T{i % 50_000}"), i // 2)
    return HEADER.pack(0xEB9F, 1, 0, HEADER.size, 0, len(types), len(types), len(strings)) + types + strings


def run(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one process, its output thrown away.

    Through GNU time when there is one: a child's peak RSS from wait4 here would count this (large) process,
    whose memory the child shares until it execs.
    """
    time_tool = os.path.exists("/usr/bin/time")
    if time_tool:
        argv = ["/usr/bin/time", "-f", "KBGEN-BENCH %e %U %S %M", *argv]
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    error = done.stderr.decode(errors="replace")
    if done.returncode:
        sys.exit(f"{' '.join(argv)}: exit {done.returncode}: {error.strip()[-500:]}")
    if not time_tool:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # an upper bound
    figures = error.rsplit("KBGEN-BENCH ", 1)[1].split()
    return float(figures[0]), float(figures[1]) + float(figures[2]), int(figures[3]) / 1024


KBGEN_PROBE = ("import os, sys, time; from kb.cli import cli; "
               "cli(['probe', sys.argv[1], '--release', sys.argv[2], '--db', os.path.join(sys.argv[3], f'{time.time_ns()}.db')])")
KBGEN_READ = ("import sys; from kb.formats.kimage import read_kernel_btf; "
              "items = read_kernel_btf(sys.argv[1]).items(); print(len(items.kfuncs))")


def best(commands: dict[str, list[str]], rounds: int) -> dict[str, tuple[float, float, float]]:
    """Best wall time, best CPU time and the highest peak RSS of each command, rounds interleaved."""
    results: dict[str, tuple[float, float, float]] = {}
    for _ in range(rounds):
        for label, argv in commands.items():
            wall, cpu, rss = run(argv)
            if label in results:
                wall, cpu, rss = min(wall, results[label][0]), min(cpu, results[label][1]), max(rss, results[label][2])
            results[label] = (wall, cpu, rss)
    return results


def measure(label: str, path: str, rounds: int, bpftool: str, probe: bool, release: str, stress: bool) -> bool:
    size = os.path.getsize(path) / 1e6
    commands = {"bpftool": [bpftool, "btf", "dump", "file", path, "format", "raw"],
                "kbgen": [sys.executable, "-c", KBGEN_READ, path]}
    tmp = tempfile.mkdtemp(prefix="kbgen-bench-")
    if probe:  # a new database each round: the build's digest is not already stored
        commands["kbgen probe"] = [sys.executable, "-c", KBGEN_PROBE, path, release, tmp]
    try:
        results = best(commands, rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (tool_s, tool_cpu, tool_rss), (ours_s, ours_cpu, ours_rss) = results["bpftool"], results["kbgen"]
    ok = (stress or ours_s <= tool_s) and ours_rss < TARGET_RSS_MIB
    line = (f"{label:<36} {size:5.1f} MB | bpftool {tool_s:5.2f} s {tool_cpu:5.2f} cpu {tool_rss:4.0f} MiB | kbgen "
            f"{ours_s:5.2f} s {ours_cpu:5.2f} cpu {ours_rss:4.0f} MiB | {ours_s / tool_s:4.2f}x, "
            f"{ours_cpu / size * 1000:4.0f} cpu-ms/MB")
    if probe:
        line += " | kbgen probe {:5.2f} s {:5.2f} cpu {:4.0f} MiB".format(*results["kbgen probe"])
    print(line + ("" if ok else "  <-- target missed") + ("  (stress input: time reported, not targeted)" if stress else ""),
          flush=True)
    return ok


def inputs(images: list[str], workdir: str) -> list[tuple[str, str, str, bool]]:
    """(label, raw BTF path, release to probe it as, a stress input) of every input."""
    from kb.formats.kimage import read_kernel_btf

    found = []
    if os.path.exists(VMLINUX):
        found.append((f"{VMLINUX} ({os.uname().release})", VMLINUX, os.uname().release, False))
    for image in images:
        kernel = read_kernel_btf(image)
        path = os.path.join(workdir, f"{kernel.version or os.path.basename(image)}.btf")
        with open(path, "wb") as out:
            out.write(kernel.btf)
        found.append((f"{kernel.version} ({kernel.container})", path, kernel.version or "7.2.0-1-amd64", False))
    if os.path.exists(VMLINUX):
        with open(VMLINUX, "rb") as handle:
            base = handle.read()
        type_len = HEADER.unpack_from(base)[5]
        most = max(8, 1 << math.ceil(math.log2(NOT_DEDUPLICATED_MB * 1e6 / type_len)))
        copies = 1
        while copies <= most:
            path = os.path.join(workdir, f"not-deduplicated-x{copies}.btf")
            with open(path, "wb") as out:
                out.write(not_deduplicated(base, copies))
            found.append((f"not deduplicated, {copies} cop{'y' if copies == 1 else 'ies'}", path, "6.1.0-1-amd64",
                          False))
            copies *= 2
    path = os.path.join(workdir, "enumerators-65535.btf")
    with open(path, "wb") as out:
        out.write(many_enumerators())
    found.append(("65,535 enumerators, names repeated", path, "6.1.0-1-amd64", True))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", action="append", default=[], help="a kernel image whose BTF to add (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probe", action="store_true", help="also time the whole `kbgen probe FILE --db NEW`")
    parser.add_argument("--keep", help="write the inputs into this directory and keep them")
    args = parser.parse_args()
    bpftool = shutil.which("bpftool") or sys.exit("bpftool not found (apt-get install bpftool)")
    print(f"{bpftool}: {subprocess.run([bpftool, 'version'], capture_output=True, text=True, check=False).stdout.splitlines()[0]}"
          f"; python {sys.version.split()[0]}; best of {args.rounds}, whole processes")
    workdir = args.keep or tempfile.mkdtemp(prefix="kbgen-bench-")
    os.makedirs(workdir, exist_ok=True)
    try:
        results = [measure(label, path, args.rounds, bpftool, args.probe, release, stress)
                   for label, path, release, stress in inputs(args.image, workdir)]
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("all targets met" if all(results) else "TARGETS MISSED")


if __name__ == "__main__":
    main()
