"""Load every object of a corpus into this machine's kernel with libbpf and say why each refusal happened.

    python bench/load_corpus.py CORPUS_DIR OUT.tsv [--bpftool bpftool] [--timeout 60] [--jobs 1] [--debug]
    python bench/load_corpus.py CORPUS_DIR OUT.tsv --per-program [--libbpf libbpf.so.1]

Each object goes through `bpftool prog loadall OBJ /sys/fs/bpf/kbgen-load` (libbpf opens, relocates and loads
every autoloaded program; nothing is attached), run by `unshare --mount` over a bpffs of its own: maps pinned by
name (libbpf's pin root is /sys/fs/bpf) neither leak into the host's bpffs nor get reused by the next object,
and every pin is gone when the process ends.  With --per-program, libbpf's C API through ctypes (a child process
in the same kind of namespace) opens the object once per program with only that program autoloaded, so a tool's
alternatives (fentry or kprobe) are judged apart; libbpf's warnings reach it through `libbpf_set_print`.
One row per object (or program):
`loaded` (every program verified; `programs` counts the pins) or `refused`, with the first program libbpf
failed on, its errno, the verifier's last meaningful line (libbpf prints the log between `-- BEGIN PROG LOAD LOG
--` and `-- END PROG LOAD LOG --`) and a reason class:

- environment, the program may be fine: `attach target absent` (fentry/tp_btf/lsm target or kprobe function not
  in this kernel), `ksym absent` (a non-weak `__ksym` not in vmlinux or module BTF), `module BTF` (a type or kfunc
  living in a module that is not loaded), `lockdown` (a helper the lockdown LSM withdraws, e.g.
  `bpf_probe_write_user` in integrity mode), `map creation` (a map this kernel refuses, often one user space
  sizes before load; --per-program reads the definitions and says `map sized by user space`: max_entries 0, a
  stack map's value size 0, or `map definition for another loader`: a ringbuf with a value type), `struct_ops`
  (the struct_ops type is not in this kernel), `refused before verification (PREFIX)` (an errno with no
  verifier log, named by the program's section prefix: fentry, lsm, iter... which this kernel refuses; the
  header lists the program types `bpftool feature probe` finds unavailable);
- the object itself against this kernel: `CO-RE unresolved` (a poisoned instruction reached: `invalid func
  unknown#195896080`, `failed to resolve CO-RE relocation`), `unknown helper` / `unknown kfunc`, `verifier` (any
  other verifier refusal), `extern without BTF` (an extern libbpf cannot type, e.g. a `memcmp` call clang left),
  `section unknown to libbpf` (written for another loader: cilium/ebpf, Inspektor Gadget), `libbpf open` (libbpf
  cannot open the object: legacy `maps`, static programs), `timeout`.

Without --per-program, a tool whose user space picks one of alternative programs (fentry or kprobe) or sizes
maps before load is refused as a whole object: loadall loads every program as the object stands.

Objects are those ending in .o under CORPUS_DIR; objects over 64 MiB are skipped.  The kernel release and the
lockdown mode (if securityfs is mounted) head the output as comments.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import ctypes.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

BPFFS = "/sys/fs/bpf"
MAX_OBJECT = 64 << 20
MAX_LINE = 400
STACK_TRACE, RINGBUF = 7, 27  # enum bpf_map_type
MAX_LOG = (16 << 20) + 4096  # libbpf's largest verifier log buffer, plus its framing
COLUMNS = ("object", "result", "programs", "program", "section", "errno", "reason", "last", "detail")

FAILED_PROG = re.compile(r"^libbpf: prog '(?P<prog>[^']*)': (?:BPF program load|failed to load)[^:]*: (?P<err>-?\w+)")
STATS = re.compile(r"^(processed \d+ insns|verification time|stack depth|mark_precise|from \d+ to \d+)")

# (reason, pattern over the log): the first match wins, so specific causes come before generic ones
REASONS = (
    ("lockdown", re.compile(r"unknown func bpf_probe_write_user|locked down|Lockdown", re.IGNORECASE)),
    ("CO-RE unresolved", re.compile(r"invalid func unknown#195896080|failed to resolve CO-RE relocation|"
                                    r"failed to relocate|relocation decision ambig")),
    ("extern without BTF", re.compile(r"failed to find BTF for extern")),
    ("ksym absent", re.compile(r"extern \((?:func |var )?ksym\) '[^']*': not found|"
                               r"kfunc '[^']*' not found|ksym '[^']*' not found")),
    ("module BTF", re.compile(r"in kernel or module BTFs|module BTF", re.IGNORECASE)),
    ("attach target absent", re.compile(r"failed to find kernel BTF type ID|cannot be found|"
                                        r"failed to find attach target|Attach to unsupported|"
                                        r"failed to resolve target BTF|tracepoint .* not found", re.IGNORECASE)),
    ("struct_ops", re.compile(r"struct_ops init_kern|failed to find struct_ops|struct_ops .* not found")),
    ("map creation", re.compile(r"map '[^']*': failed to create|failed to create map")),
    ("unknown helper", re.compile(r"unknown func |program of this type cannot use helper")),
    ("unknown kfunc", re.compile(r"calling kernel function .* is not allowed|kernel btf_id \d+ is not a function|"
                                 r"kfunc .* is not allowed")),
    ("section unknown to libbpf", re.compile(r"missing BPF prog type|failed to guess program type")),
    ("libbpf open", re.compile(r"Error: failed to open object file|sec '[^']*': failed to|legacy map definitions"
                               r"|is static and not supported")),
)
def classify(lines: list[str], verifier: list[str], errno: str, section: str) -> str:
    text = "\n".join(verifier + lines)
    for reason, pattern in REASONS:
        if pattern.search(text):
            return reason
    if errno and not verifier:
        # the section's prefix says which attach kind this kernel refuses (fentry, lsm, iter...)
        return f"refused before verification ({section.split('/')[0].lstrip('?') or '?'})"
    return "verifier" if verifier else "other"


def verifier_logs(lines: list[str]) -> list[list[str]]:
    logs, current = [], None
    for line in lines:
        if "-- BEGIN PROG LOAD LOG --" in line:
            current = []
        elif "-- END PROG LOAD LOG --" in line:
            logs.append(current or [])
            current = None
        elif current is not None:
            current.append(line)
    return logs


def read_output(out) -> tuple[list[str], int]:
    """libbpf's lines and the tail of each verifier log (a refused program's log can be megabytes), and the pins."""
    lines, tail, inside, pins = [], [], False, 0
    for line in out:
        line = line.rstrip("\n")
        if "-- BEGIN PROG LOAD LOG --" in line:
            inside, tail = True, []
            lines.append(line[:MAX_LINE])
        elif "-- END PROG LOAD LOG --" in line:
            inside = False
            lines += [*tail[-20:], line]
        elif inside:
            tail.append(line[:MAX_LINE])
        elif line.startswith("kbgen-pins: "):
            pins = int(line.split()[1])
        elif line.startswith(("libbpf: ", "Error:")):
            lines.append(line[:MAX_LINE])
    return lines, pins


def program_sections(path: str) -> dict[str, str]:
    """Function symbol -> its ELF section, to know a failed program's type."""
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        symbols = elf.get_section_by_name(".symtab")
        if not isinstance(symbols, SymbolTableSection):
            return {}
        return {
            symbol.name: elf.get_section(symbol["st_shndx"]).name for symbol in symbols.iter_symbols()
            if symbol["st_info"]["type"] == "STT_FUNC" and isinstance(symbol["st_shndx"], int)
        }


def load(job: tuple[str, str, dict]) -> dict:
    path, rel, options = job
    row = dict.fromkeys(COLUMNS, "") | {"object": rel}
    if os.path.getsize(path) > MAX_OBJECT:
        return row | {"result": "skipped", "detail": "over 64 MiB"}
    pin = os.path.join(BPFFS, "kbgen-load")
    # the pins are counted inside the namespace, before its bpffs goes away
    script = f'"$@"; rc=$?; echo "kbgen-pins: $(ls {pin} 2>/dev/null | wc -l)"; exit $rc'
    command = [*private_bpffs(script), options["bpftool"], *options["debug"], "prog", "loadall", path, pin]
    code, (lines, pins) = run_captured(command, options["timeout"], read_output)
    if code == 0:
        return row | {"result": "loaded", "programs": str(pins)}
    failed = next((FAILED_PROG.match(line) for line in lines if FAILED_PROG.match(line)), None)
    program = failed["prog"] if failed else ""
    section = program_sections(path).get(program, "") if program else ""
    return row | judge(lines, code, section) | {"programs": str(pins), "program": program}


def judge(lines: list[str], code: int | None, section: str) -> dict:
    """The refusal fields of a row from libbpf's lines (`code` None: timed out)."""
    failed = next((FAILED_PROG.match(line) for line in lines if FAILED_PROG.match(line)), None)
    errno = failed["err"] if failed else ""
    logs = verifier_logs(lines)
    verifier = [line for line in logs[0] if line.strip() and not STATS.match(line)] if logs else []
    # libbpf's own words first: bpftool's closing `Error:` line says less
    errors = [line for line in lines if ("failed" in line or "not found" in line or "not supported" in line)
              and line.startswith("libbpf: ") and "BPF token" not in line]
    errors += [line for line in lines if line.startswith("Error:")]
    if code is None:
        reason = "timeout"
    else:
        own = [line for line in lines if not line.startswith("libbpf: ")]
        reason = classify(own + errors, verifier, errno, section)
    return {"result": "refused", "section": section, "errno": errno, "reason": reason,
            "last": verifier[-1] if verifier else "", "detail": (errors[0] if errors else "")[:MAX_LINE]}


def load_programs(job: tuple[str, str, dict]) -> list[dict]:
    """One row per program: the object loaded with only that program autoloaded (libbpf through ctypes)."""
    path, rel, options = job
    row = dict.fromkeys(COLUMNS, "") | {"object": rel}
    if os.path.getsize(path) > MAX_OBJECT:
        return [row | {"result": "skipped", "detail": "over 64 MiB"}]
    command = [*private_bpffs('exec "$@"'), sys.executable, os.path.abspath(__file__), "--child", options["libbpf"],
               path]
    code, reports = run_captured(command, options["timeout"],
                                 lambda out: [json.loads(line) for line in out if line.startswith("{")])
    if code == 0 and not reports:
        return [row | {"result": "no programs", "programs": "0"}]
    if not reports:
        return [row | {"result": "refused", "reason": "timeout" if code is None else f"loader exit {code}"}]
    rows = []
    for report in reports:
        mine = row | {"program": report["program"], "section": report["section"]}
        if report["err"] == 0:
            rows.append(mine | {"result": "loaded", "programs": "1"})
        elif report["type"] == 0 and report["program"]:
            rows.append(mine | {"result": "refused", "programs": "0", "errno": str(report["err"]),
                                "reason": "section unknown to libbpf", "detail": "BPF_PROG_TYPE_UNSPEC"})
        else:
            judged = judge(report["log"], report["err"], report["section"])
            if judged["reason"] == "map creation":
                judged["reason"] = map_reason(judged["detail"], report.get("maps", {}))
            rows.append(mine | judged | {"programs": "0", "errno": judged["errno"] or str(report["err"])})
    return rows


def map_reason(detail: str, maps: dict[str, list[int]]) -> str:
    """Why a map was refused, from its definition: [type, key size, value size, max entries] as libbpf read it."""
    name = re.search(r"map '([^']*)': failed to create", detail)
    kind, key, value, entries = maps.get(name[1] if name else "", [0, 0, 0, 1])
    if entries == 0 or (kind == STACK_TRACE and value == 0):
        return "map sized by user space"
    if kind == RINGBUF and (key or value):
        return "map definition for another loader"  # cilium/ebpf takes a ringbuf's value type for code generation
    return "map creation"


def child(libbpf: str, path: str) -> int:
    """In the private namespace: open PATH once per program, autoload only that one, load, print a JSON line."""
    lib, libc = ctypes.CDLL(libbpf, use_errno=True), ctypes.CDLL(None)
    buffer = ctypes.create_string_buffer(MAX_LOG)
    log: list[str] = []

    @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
    def printer(level, fmt, args):
        # libbpf passes a va_list; vsnprintf formats it (x86-64: the va_list is a pointer)
        if level <= 1:
            libc.vsnprintf(buffer, MAX_LOG, fmt, ctypes.c_void_p(args))
            log.extend(buffer.value.decode(errors="replace").splitlines())
        return 0

    lib.libbpf_set_print(printer)
    for name, kind in (("bpf_object__open_file", ctypes.c_void_p), ("bpf_object__next_program", ctypes.c_void_p),
                       ("bpf_program__name", ctypes.c_char_p), ("bpf_program__section_name", ctypes.c_char_p)):
        getattr(lib, name).restype = kind
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.bpf_object__next_program.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.bpf_program__name.argtypes = lib.bpf_program__section_name.argtypes = [ctypes.c_void_p]
    lib.bpf_program__type.argtypes = [ctypes.c_void_p]
    lib.bpf_object__next_map.restype, lib.bpf_map__name.restype = ctypes.c_void_p, ctypes.c_char_p
    lib.bpf_object__next_map.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    for field in ("name", "type", "key_size", "value_size", "max_entries"):
        getattr(lib, f"bpf_map__{field}").argtypes = [ctypes.c_void_p]
    lib.bpf_program__set_autoload.argtypes = [ctypes.c_void_p, ctypes.c_bool]
    lib.bpf_object__load.argtypes = lib.bpf_object__close.argtypes = [ctypes.c_void_p]

    def programs(obj):
        program = lib.bpf_object__next_program(obj, None)
        while program:
            yield (program, lib.bpf_program__name(program).decode(), lib.bpf_program__section_name(program).decode(),
                   lib.bpf_program__type(program))
            program = lib.bpf_object__next_program(obj, program)

    obj = lib.bpf_object__open_file(path.encode(), None)
    if not obj:
        print(json.dumps({"program": "", "section": "", "type": -1, "err": -ctypes.get_errno() or -1,
                          "log": tail(log)}))
        return 0
    names = [(name, section, kind) for _, name, section, kind in programs(obj)]
    maps = {}
    bpf_map = lib.bpf_object__next_map(obj, None)
    while bpf_map:
        maps[lib.bpf_map__name(bpf_map).decode()] = [
            getattr(lib, f"bpf_map__{field}")(bpf_map) for field in ("type", "key_size", "value_size", "max_entries")
        ]
        bpf_map = lib.bpf_object__next_map(obj, bpf_map)
    lib.bpf_object__close(obj)
    for name, section, kind in names:
        log.clear()
        obj = lib.bpf_object__open_file(path.encode(), None)
        for program, other, _, _ in programs(obj):
            lib.bpf_program__set_autoload(program, other == name)
        err = lib.bpf_object__load(obj)
        print(json.dumps({"program": name, "section": section, "type": kind, "err": err, "log": tail(log),
                          "maps": maps}), flush=True)
        lib.bpf_object__close(obj)
    return 0


def tail(log: list[str]) -> list[str]:
    return read_output(line + "\n" for line in log)[0]


def run_captured(command: list[str], timeout: float, read):
    """(exit status or None on timeout, read(output)): the output goes through a file, never whole into memory."""
    with tempfile.TemporaryFile("w+", errors="replace") as out:
        try:
            code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                  check=False).returncode
        except subprocess.TimeoutExpired:
            code = None
        out.seek(0)
        return code, read(out)


def private_bpffs(script: str) -> list[str]:
    """A command prefix running SCRIPT (its arguments follow) in a mount namespace with a bpffs of its own."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"mount -t bpf bpf {BPFFS} || exit 125; {script}", "sh"]


def unavailable_types(bpftool: str) -> set[str]:
    """Program types `bpftool feature probe kernel` finds this kernel refusing."""
    probe = subprocess.run([bpftool, "feature", "probe", "kernel"], capture_output=True, text=True, check=False)
    found = re.findall(r"^eBPF program_type (\w+) is NOT available$", probe.stdout, re.MULTILINE)
    return set(found)


def objects(corpus: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(corpus):
        dirs.sort()
        found += [os.path.join(root, f) for f in sorted(files) if f.endswith(".o")]
    return found


def lockdown() -> str:
    try:
        with open("/sys/kernel/security/lockdown") as handle:
            return handle.read().strip()
    except OSError:
        return "unknown (securityfs not mounted)"


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("out")
    parser.add_argument("--bpftool", default="bpftool")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--debug", action="store_true", help="bpftool -d: libbpf's debug log and full verifier logs")
    parser.add_argument("--per-program", action="store_true", help="one row per program, libbpf through ctypes")
    parser.add_argument("--libbpf", default=ctypes.util.find_library("bpf") or "libbpf.so.1")
    args = parser.parse_args()
    if not shutil.which("unshare") or os.geteuid() != 0:
        print("load_corpus: needs root and unshare(1) (each load runs over a private bpffs)", file=sys.stderr)
        return 2
    unavailable = unavailable_types(args.bpftool)
    options = {"bpftool": args.bpftool, "timeout": args.timeout, "debug": ["-d"] if args.debug else [],
               "unavailable": unavailable, "libbpf": args.libbpf}
    paths = objects(args.corpus)
    jobs = [(path, os.path.relpath(path, args.corpus), options) for path in paths]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        if args.per_program:
            table = [row for rows in pool.map(load_programs, jobs) for row in rows]
        else:
            table = list(pool.map(load, jobs))
    loader = f"{args.libbpf} per program" if args.per_program else f"{args.bpftool} prog loadall"
    with open(args.out + ".tmp", "w") as handle:
        handle.write(f"# kernel {platform.release()}; lockdown {lockdown()}; program types unavailable: "
                     f"{' '.join(sorted(unavailable)) or 'none'}; {loader}\n")
        handle.write("\t".join(COLUMNS) + "\n")
        handle.writelines("\t".join(row[c].replace("\t", " ") for c in COLUMNS) + "\n" for row in table)
    os.replace(args.out + ".tmp", args.out)
    counts: dict[str, int] = {}
    for row in table:
        key = row["result"] if row["result"] != "refused" else f"refused: {row['reason']}"
        counts[key] = counts.get(key, 0) + 1
    for key, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"{count:5d}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
