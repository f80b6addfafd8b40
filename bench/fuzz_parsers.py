"""Seeded mutations of real inputs given to kbgen's parsers, each in its own process under memory and time limits.

    python bench/fuzz_parsers.py [--inputs 2000] [--seconds S] [--seed 1] [--parser btf|bpf|kimage ...]
                                 [--seed-dir DIR ...] [--kernel BZIMAGE] [--clang CLANG] [--jobs N] [--keep DIR]

Seeds are real data, none of it the tests': a BPF program held here (maps, a kfunc and its decl tag, CO-RE,
globals, the UAPI enums of <linux/bpf.h>), compiled with clang -target bpf (--clang: clang-19, else clang);
the running kernel's /sys/kernel/btf/vmlinux; and what --seed-dir holds (searched recursively: BPF objects,
raw BTF, kernel images named vmlinuz*, vmlinux*, Image*, bzImage*, *.btf.tar.*).  For example
--seed-dir /work/corpus (310 BPF objects from real projects) or a directory of kernels from Debian packages.

* btf: ``parse_btf``, every type decoded, ``build_items`` (helpers, enums, kfunc prototypes); seeds are the
  compiled program's .BTF, /sys/kernel/btf/vmlinux (when present), the .BTF of every BPF object and every raw
  BTF file under --seed-dir.
* bpf: ``parse_object`` (ELF, BTF, BTF.ext, instructions, calls, maps); seeds are the compiled program and the
  BPF objects under --seed-dir.
* kimage: ``read_kernel_btf`` and its items; seeds are built here around the compiled program's BTF, as a
  kernel's build does: a vmlinux (clang-linked, .BTF added by llvm-objcopy, a linux_banner in .rodata), an x86
  bzImage carrying it in each of the six codecs (in the boot setup of --kernel, else of /boot/vmlinuz-*; left
  out without one), the vmlinux compressed in each codec, raw BTF, .btf.tar.xz and .tar.gz, an arm64 Image,
  Image.gz and zboot.  Half the mutations damage the file as it is, half damage what is inside (the vmlinux,
  the BTF) and wrap it again, so that the damage reaches past the codecs.  With kernel images under
  --seed-dir, a third of the inputs are those images damaged.

Mutations: bit flips, bytes set to random or boundary values, 4- and 8-byte words set to boundary integers
(0, -1, 2**31, the input's length...), truncation, a chunk deleted, duplicated or spliced from another seed.
Input *i* of a parser is made by ``random.Random(f"{seed}:{parser}:{i}")``: with the same seeds (the same
--seed-dir, clang and kernel), every input can be made again.

Each input runs in a forked child with RLIMIT_AS (--memory, 3 GiB) and a --timeout (20 s: SIGALRM and
RLIMIT_CPU).  Outcomes: ``ok`` (parsed), ``clean`` (the parser's own one-line error), ``traceback`` (any other
exception), ``hang`` (killed by the timeout), ``memory`` (MemoryError, killed, or a peak RSS above
--rss-limit, 1 GiB).  Only the first two are acceptable; the others are listed with the input's number (and
kept under --keep) so that each can be replayed: ``--parser P --only I`` with the same seeds.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import lzma
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from kernel_inputs import CODECS, BzImage, compress, find_bzimage, with_size

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT]

from kb.formats.bpf.elfobject import read_object
from kb.formats.btf.kernel import build_items
from kb.formats.btf.reader import BTFError, parse_btf
from kb.formats.kimage import read_kernel_btf
from kb.vocab.errors import KbgenError

SYS_BTF = "/sys/kernel/btf/vmlinux"
BOUNDARY = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF,
            0x7FFFFFFFFFFFFFFF, 24, 4096, 1 << 20)
OUTCOMES = ("ok", "clean", "traceback", "hang", "memory")
EM_BPF = 247
BTF_MAGICS = (b"\x9f\xeb", b"\xeb\x9f")  # 0xEB9F, little- or big-endian
KERNEL_NAME = re.compile(r"(vmlinuz|vmlinux|Image|bzImage)([-.]|$)|\.btf\.tar\.")

# The seed program: every section kind the scan reads, and the UAPI enums a kernel's BTF carries (the kernel's own
# are in /sys/kernel/btf/vmlinux), so that build_items finds helpers, types and a tagged kfunc in a small BTF.
PROGRAM = r"""
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))
#define __ksym __attribute__((section(".ksyms")))
#define __kfunc __attribute__((btf_decl_tag("bpf_kfunc"), noinline))
#define __user __attribute__((btf_type_tag("user")))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) =
	(void *)BPF_FUNC_map_update_elem;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)BPF_FUNC_probe_read_kernel;

struct task_struct {
	int pid;
	unsigned int flags;
	struct task_struct *parent;
	char comm[16];
} __attribute__((preserve_access_index));

struct bpf_cpumask;
extern struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
extern void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym __attribute__((weak));

struct {
	int (*type)[BPF_MAP_TYPE_HASH];
	int (*max_entries)[1024];
	__u32 *key;
	__u64 *value;
} starts SEC(".maps");

struct {
	int (*type)[BPF_MAP_TYPE_PERCPU_ARRAY];
	int (*max_entries)[1];
	__u32 *key;
	struct task_struct *value;
} scratch SEC(".maps");

enum bpf_func_id last_helper = __BPF_FUNC_MAX_ID;
enum bpf_prog_type prog_type = BPF_PROG_TYPE_KPROBE;
enum bpf_map_type map_type = BPF_MAP_TYPE_HASH;
enum bpf_attach_type attach_type = BPF_TRACE_FENTRY;
enum bpf_link_type link_type = BPF_LINK_TYPE_TRACING;
enum bpf_cmd cmd = BPF_PROG_LOAD;
enum wide { WIDE_LOW = 1, WIDE_HIGH = 1ULL << 40 } wide = WIDE_HIGH;
union bpf_attr *attr;
double ratio = 0.5;
int __user *user_pointer;
const volatile int filter_pid = 0;

__kfunc int kbgen_seed_kfunc(struct task_struct *task, __u32 flags)
{
	return task ? task->pid + flags : -1;
}

static __attribute__((noinline)) int parent_pid(struct task_struct *task)
{
	struct task_struct *parent = 0;

	bpf_probe_read_kernel(&parent, sizeof(parent), &task->parent);
	return parent ? kbgen_seed_kfunc(parent, 0) : 0;
}

SEC("tp_btf/sched_process_fork")
int on_fork(__u64 *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx[1];
	__u32 pid = child->pid, zero = 0;
	__u64 now = bpf_ktime_get_ns();
	struct bpf_cpumask *mask;

	if (filter_pid && pid != filter_pid)
		return 0;
	bpf_map_update_elem(&starts, &pid, &now, BPF_ANY);
	if (bpf_map_lookup_elem(&scratch, &zero))
		__sync_fetch_and_add(&last_helper, 1);
	mask = bpf_cpumask_create();
	if (mask && bpf_cpumask_release)
		bpf_cpumask_release(mask);
	return parent_pid(child);
}

SEC("kprobe/do_exit")
int on_exit(void *ctx)
{
	__u32 pid = (__u32)bpf_ktime_get_ns();
	__u64 *start = bpf_map_lookup_elem(&starts, &pid);

	for (int i = 0; i < 4 && start; i++)
		*start += i;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""

# The vmlinux around the BTF: linked for the host, the banner where the kernel keeps it (.rodata).
VMLINUX = r"""
const char linux_banner[] = "Linux version 6.1.0-seed-amd64 (kbgen@bench) (clang) #1 SMP PREEMPT_DYNAMIC\n";
void _start(void) {}
"""


# Seeds.

@dataclass
class Built:
    """The seed program compiled, its .BTF, and a vmlinux holding that .BTF."""

    bpf_object: bytes
    btf: bytes
    vmlinux: bytes


def _run(command: list[str]) -> None:
    done = subprocess.run(command, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)}: exit {done.returncode}\n{done.stdout.strip()}")


def build(clang: str | None) -> Built | None:
    """The seed program and its vmlinux, or None without a clang."""
    clang = clang or shutil.which("clang-19") or shutil.which("clang")
    if clang is None:
        return None
    objcopy = shutil.which("llvm-objcopy") or shutil.which("objcopy") or "llvm-objcopy"
    arch_include = f"/usr/include/{os.uname().machine}-linux-gnu"
    with tempfile.TemporaryDirectory(prefix="kbgen-fuzz-seeds-") as work:
        program, vmlinux = os.path.join(work, "seed.bpf.c"), os.path.join(work, "vmlinux.c")
        with open(program, "w") as handle:
            handle.write(PROGRAM)
        with open(vmlinux, "w") as handle:
            handle.write(VMLINUX)
        _run([clang, "-g", "-O2", "-target", "bpf", f"-I{arch_include}", "-c", program, "-o", program + ".o"])
        _run([objcopy, "--dump-section", f".BTF={program}.btf", program + ".o"])
        _run([clang, "-O2", "-nostdlib", "-static", "-Wl,--build-id=none", vmlinux, "-o", vmlinux + ".elf"])
        _run([objcopy, "--add-section", f".BTF={program}.btf", vmlinux + ".elf"])
        return Built(*(open(path, "rb").read() for path in (program + ".o", program + ".btf", vmlinux + ".elf")))


@dataclass
class Found:
    """What --seed-dir holds, by parser."""

    bpf: list[bytes] = field(default_factory=list)
    btf: list[bytes] = field(default_factory=list)
    kernels: list[str] = field(default_factory=list)  # paths: read only when the kimage parser runs


def _btf_section(data: bytes) -> bytes | None:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        section = ELFFile(io.BytesIO(data)).get_section_by_name(".BTF")
        return section.data() if section is not None else None
    except (ELFError, ValueError, struct.error):
        return None


def _is_bpf_object(head: bytes) -> bool:
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return False
    return struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)[0] == EM_BPF


def read_seed_dirs(dirs: list[str]) -> Found:
    found = Found()
    for top in dirs:
        for folder, subdirs, names in os.walk(top):
            subdirs.sort()
            for name in sorted(names):
                path = os.path.join(folder, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as handle:
                    head = handle.read(64)
                    if _is_bpf_object(head):
                        found.bpf.append(head + handle.read())
                        btf = _btf_section(found.bpf[-1])
                        found.btf += [btf] if btf else []
                    elif head[:2] in BTF_MAGICS:
                        found.btf.append(head + handle.read())
                if KERNEL_NAME.search(name):
                    found.kernels.append(path)
    return found


def btf_seeds(built: Built | None, found: Found) -> list[bytes]:
    seeds = ([built.btf] if built else []) + found.btf
    if os.path.exists(SYS_BTF):
        with open(SYS_BTF, "rb") as handle:
            seeds.append(handle.read())
    return seeds


def bpf_seeds(built: Built | None, found: Found) -> list[bytes]:
    return ([built.bpf_object] if built else []) + found.bpf


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


@dataclass
class Kernels:
    """The kimage parser's seeds: the built BTF and vmlinux to wrap, a real bzImage to carry them, real images."""

    btf: bytes
    vmlinux: bytes
    carrier: BzImage | None
    images: list[bytes]

    def kinds(self) -> list[str]:
        kinds = [f"bzimage:{c}" for c in CODECS] if self.carrier else []
        kinds += [f"compressed:{c}" for c in CODECS]
        return kinds + ["btf", "elf", "tar.xz", "tar.gz", "image", "image.gz", "zboot"]

    def wrap(self, kind: str, inner: bytes) -> bytes:
        """A kernel image of *kind* around *inner* (a vmlinux for bzImage, compressed and elf kinds, else BTF)."""
        codec = kind.split(":")[1] if ":" in kind else None
        if kind.startswith("bzimage:"):
            return self.carrier.carrying(with_size(compress(codec, inner), len(inner)))
        if kind.startswith("compressed:"):
            return compress(codec, inner)
        return {
            "btf": lambda: inner,
            "elf": lambda: inner,
            "tar.xz": lambda: lzma.compress(_tar("./5.4.0-1009-aws.btf", inner)),
            "tar.gz": lambda: gzip.compress(_tar("6.1.0-13-amd64.btf", inner), mtime=0),
            "image": lambda: _arm64_image(inner),
            "image.gz": lambda: gzip.compress(_arm64_image(inner), mtime=0),
            "zboot": lambda: _zboot(gzip.compress(_arm64_image(inner), mtime=0)),
        }[kind]()

    def others(self) -> list[bytes]:
        return [self.btf, self.vmlinux, *self.images]


def kimage_seeds(built: Built | None, found: Found, kernel: str | None) -> Kernels:
    if built is None:
        sys.exit("kimage: no clang to build the seed vmlinux (pass --clang, or --parser btf/bpf with --seed-dir)")
    carrier = BzImage(kernel) if kernel else None
    images = []
    for path in found.kernels:
        with open(path, "rb") as handle:
            images.append(handle.read())
    return Kernels(built.btf, built.vmlinux, carrier, images)


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
    if seeds.images and rng.random() < 1 / 3:
        return mutate(rng.choice(seeds.images), rng, seeds.others())
    kind = rng.choice(seeds.kinds())
    inner = seeds.vmlinux if kind.startswith(("bzimage", "compressed", "elf")) else seeds.btf
    if rng.random() < 0.5:
        return seeds.wrap(kind, mutate(inner, rng, seeds.others()))  # damage that reaches past the codec
    return mutate(seeds.wrap(kind, inner), rng, seeds.others())


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


def run_parser(parser: str, seeds, described: str, options) -> Counter:
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
        if options.seconds and time.perf_counter() - started > options.seconds:
            break
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
    print(f"{parser:7} {sum(counts.values()):6} inputs ({described}) in {seconds:6.1f} s: "
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=2000, help="inputs per parser (default 2000)")
    parser.add_argument("--seconds", type=float, help="per parser: start no input after this many seconds")
    parser.add_argument("--seed", default="1", help="what the inputs' random numbers start from (default 1)")
    parser.add_argument("--parser", action="append", choices=("btf", "bpf", "kimage"),
                        help="parser to fuzz; repeat for several (default: all three)")
    parser.add_argument("--seed-dir", action="append", default=[], metavar="DIR",
                        help="more real seeds: BPF objects, raw BTF, kernel images under DIR; repeat for several")
    parser.add_argument("--kernel", metavar="BZIMAGE",
                        help="a real x86 bzImage whose boot setup carries the bzImage seeds (default: "
                             "/boot/vmlinuz-$(uname -r) or another /boot/vmlinuz-*)")
    parser.add_argument("--clang", help="the clang that compiles the seed program (default: clang-19, else clang)")
    parser.add_argument("--only", type=int, help="run this input number alone (to replay one)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=20, help="seconds per input")
    parser.add_argument("--memory", type=int, default=3 << 30, help="RLIMIT_AS per input, bytes")
    parser.add_argument("--rss-limit", type=int, default=1 << 30, help="peak RSS above which an input blew up")
    parser.add_argument("--keep", help="directory to write the inputs in, and keep them")
    options = parser.parse_args()
    parsers = options.parser or ["btf", "bpf", "kimage"]
    built, found = build(options.clang), read_seed_dirs(options.seed_dir)
    print(f"seeds: {'the compiled program' if built else 'no clang: no compiled program'}; under --seed-dir "
          f"{len(found.bpf)} BPF objects, {len(found.btf)} BTF, {len(found.kernels)} kernel images")
    total: Counter = Counter()
    for name in parsers:
        if name == "kimage":
            kernel = find_bzimage(options.kernel)
            seeds = kimage_seeds(built, found, kernel)
            described = (f"{len(seeds.kinds())} kinds around the compiled BTF, {len(seeds.images)} real images; "
                         + (f"bzImages in {os.path.basename(kernel)}" if kernel else "no bzImage: pass --kernel"))
        else:
            seeds = btf_seeds(built, found) if name == "btf" else bpf_seeds(built, found)
            if not seeds:
                sys.exit(f"{name}: no seeds (no clang for the seed program, nothing under --seed-dir)")
            described = f"{len(seeds)} seeds"
        total += run_parser(name, seeds, described, options)
    print("all    : " + ", ".join(f"{total[o]} {o}" for o in OUTCOMES))
    sys.exit(1 if any(total[o] for o in ("traceback", "hang", "memory")) else 0)


if __name__ == "__main__":
    main()
