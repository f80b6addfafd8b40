"""Ground truth for CO-RE resolution: libbpf's own answer for every relocation of a corpus, against real target BTFs.

    python bench/core_truth.py CORPUS_DIR OUT_DIR --target NAME=PATH [--target ...] [--bpftool bpftool]
                               [--mode gen|load|both] [--jobs 2] [--timeout 120]

A target PATH is raw BTF (/sys/kernel/btf/vmlinux, a `.btf` file) or anything `kb.formats.kimage.read_kernel_btf`
reads (vmlinux, vmlinuz): its BTF is extracted once into OUT_DIR/targets/NAME.btf.

Two runs of libbpf per (object, target), both with `bpftool -d` (libbpf's debug log on stderr):

- gen: `bpftool -d gen min_core_btf TARGET OUT OBJ`.  bpftool calls libbpf's `bpf_core_calc_relo_insn` on every
  record of `.BTF.ext`, with no kernel involved.  It logs, per relocation (`prog` is the ELF section here),
  `prog 'SEC': relo #N: <KIND> [LOCAL_ID] KIND NAME SPEC` (`bpf_core_format_spec`: `.a.b[2] (0:1:2 @ offset 8)`
  for fields, `::NAME = V` for enum values, nothing more for types), one `matching|non-matching candidate #I
  <KIND> [TARGET_ID] ...` per candidate, and `no matching targets found`; it never logs the computed value, so the
  value is derived here only where the log states it (existence kinds, target type id, enum value, byte offset of
  a non-bitfield member); the rest are marked `match`.
- load: `bpftool -d prog loadall OBJ PIN kernel_btf TARGET` (bpftool 7.5+, `btf_custom_path`).  libbpf relocates
  every autoloaded program against TARGET and logs `sec 'SEC': found N CO-RE relocations`, then per relocation the
  same spec lines and the patch: `patched insn #I (ALU/ALU64) imm A -> B`, `(LDX/ST/STX) off A -> B` (and
  `mem_sz A -> B`), `(LDIMM64) imm64 A -> B`, or `substituting insn #I w/ invalid insn` (poisoned).  The programs
  are then loaded into the running kernel (the verifier's verdict is irrelevant here), inside `unshare --mount`
  over a bpffs of its own.  CO-RE runs after map creation and extern resolution against the running kernel, so
  an object failing those (or one libbpf cannot open) has no load column.

The records themselves (section, index, instruction offset, kind, access string) come from the object's .BTF.ext,
read here with no kbgen code, and are the rows: a relocation libbpf never logged (a `?SEC` program in load mode,
an earlier error) is a row with an empty result.  Columns: section, relo (index within the section, libbpf's
`relo #N`), insn (instruction index within the section: insn_off / 8), kind, local_id, local (libbpf's spec of
the local side), access, candidates (matching/all), target (matching candidates' specs), gen (value from the gen
log), load_prog, load_insn (within the program), load (patched value or `poison`), value (load, else gen), note
(other libbpf lines; `gen X != load Y` if the two runs disagree).  Output: OUT_DIR/NAME/<object path with / as
__>.tsv per (object, target), OUT_DIR/summary.tsv (one line per pair), OUT_DIR/targets.tsv.  Objects over 64 MiB
are skipped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import re
import shutil
import struct
import sys
import tempfile

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from load_corpus import BPFFS, objects, private_bpffs, run_captured  # bench/ is the script's own directory

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MAX_OBJECT = 64 << 20
MAX_LOG_LINE = 4096

KINDS = (
    "byte_off", "byte_sz", "field_exists", "signed", "lshift_u64", "rshift_u64", "local_type_id",
    "target_type_id", "type_exists", "type_size", "enumval_exists", "enumval_value", "type_matches",
)
EXISTENCE = {"field_exists", "type_exists", "type_matches", "enumval_exists"}
COLUMNS = (
    "section", "relo", "insn", "kind", "local_id", "local", "access", "candidates", "target", "gen", "load_prog",
    "load_insn", "load", "value", "note",
)

SEC_LINE = re.compile(r"^libbpf: sec '(?P<sec>[^']*)': found (?P<n>\d+) CO-RE relocations$")
RELO_LINE = re.compile(r"^libbpf: prog '(?P<prog>[^']*)': relo #(?P<idx>\d+): (?P<msg>.*)$")
SPEC = re.compile(r"^<(?P<kind>\w+)> \[(?P<id>\d+)\] (?P<spec>.*)$")
CANDIDATE = re.compile(r"^(?P<match>matching|non-matching) candidate #(?P<i>\d+) <\w+> \[(?P<id>\d+)\] (?P<spec>.*)$")
PATCHED = re.compile(
    r"^patched insn #(?P<insn>\d+) \((?:ALU/ALU64|LDX/ST/STX|LDIMM64)\) (?P<what>imm64|imm|off|mem_sz) "
    r"(?P<old>\d+) -> (?P<new>\d+)$"
)
POISONED = re.compile(r"^substituting insn #(?P<insn>\d+) w/ invalid insn$")
OFFSET = re.compile(r" @ offset (?P<byte>\d+)(?:\.(?P<bit>\d+))?\)$")
ENUM_VALUE = re.compile(r"::\S+ = (?P<value>-?\d+)$")


# --- the object's own records -------------------------------------------------------------------------------------

def btf_string(strings: bytes, offset: int) -> str:
    return strings[offset:strings.index(b"\0", offset)].decode(errors="replace")


def core_records(path: str) -> list[dict]:
    """The CO-RE relocation records of .BTF.ext in file order: section, per-section index, insn offset, kind."""
    if os.path.getsize(path) > MAX_OBJECT:
        raise ValueError("over 64 MiB")
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        if not elf.little_endian:
            raise ValueError("big-endian object")
        btf, ext = (elf.get_section_by_name(name) for name in (".BTF", ".BTF.ext"))
        if btf is None or ext is None:
            return []
        btf, ext = btf.data(), ext.data()
    magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", btf, 0)
    if magic != 0xEB9F:
        raise ValueError(".BTF: bad magic (big-endian objects are not read)")
    _type_off, _type_len, str_off, str_len = struct.unpack_from("<IIII", btf, 8)
    strings = btf[hdr_len + str_off:hdr_len + str_off + str_len]
    magic, _version, _flags, ext_hdr = struct.unpack_from("<HBBI", ext, 0)
    if magic != 0xEB9F or ext_hdr < 32:
        return []
    core_off, core_len = struct.unpack_from("<II", ext, 24)
    if not core_len:
        return []
    base = ext_hdr + core_off
    size, = struct.unpack_from("<I", ext, base)
    pos, end, records = base + 4, base + core_len, []
    while pos < end:
        sec_off, count = struct.unpack_from("<II", ext, pos)
        pos += 8
        section = btf_string(strings, sec_off)
        for index in range(count):
            insn_off, type_id, access_off, kind = struct.unpack_from("<IIII", ext, pos + index * size)
            records.append({
                "section": section, "relo": index, "insn": insn_off // 8, "local_id": type_id,
                "access": btf_string(strings, access_off),
                "kind": KINDS[kind] if kind < len(KINDS) else f"kind{kind}",
            })
        pos += count * size
    return records


# --- libbpf's log -------------------------------------------------------------------------------------------------

def parse_log(lines, mode: str) -> dict[tuple[str, int], dict]:
    """(section, relo index) -> what libbpf logged for it.  In gen mode the prog name is the section."""
    found: dict[tuple[str, int], dict] = {}
    section = ""
    for line in lines:
        line = line.rstrip("\n")[:MAX_LOG_LINE]
        match = SEC_LINE.match(line)
        if match:
            section = match["sec"]
            continue
        match = RELO_LINE.match(line)
        if not match:
            continue
        key = (match["prog"] if mode == "gen" else section, int(match["idx"]))
        entry = found.setdefault(key, {"prog": match["prog"], "candidates": 0, "matching": [], "notes": []})
        record_message(entry, match["msg"])
    return found


def record_message(entry: dict, message: str) -> None:
    spec = SPEC.match(message)
    candidate = CANDIDATE.match(message)
    patched = PATCHED.match(message)
    poisoned = POISONED.match(message)
    if spec and "local" not in entry:
        entry["local"], entry["local_id"] = spec["spec"], spec["id"]
    elif candidate:
        entry["candidates"] += 1
        if candidate["match"] == "matching":
            entry["matching"].append((int(candidate["id"]), candidate["spec"]))
    elif message == "no matching targets found":
        entry["none"] = True
    elif patched and patched["what"] == "mem_sz":
        entry["notes"].append(f"mem_sz {patched['old']}->{patched['new']}")
    elif patched:
        entry["load_insn"], entry["load"] = int(patched["insn"]), patched["new"]
    elif poisoned:
        # an ldimm64 is poisoned in two halves, the second logged first: keep the lower insn
        insn = int(poisoned["insn"])
        entry["load_insn"], entry["load"] = min(insn, entry.get("load_insn", insn)), "poison"
    else:
        entry["notes"].append(message)


def gen_value(kind: str, entry: dict) -> str:
    """The relocated value as far as the gen log states it."""
    if kind == "local_type_id":
        return entry.get("local_id", "")
    if entry.get("notes") and not entry["matching"] and not entry.get("none"):
        return "error"
    if not entry["matching"]:
        if not entry.get("none"):
            return ""
        return "0" if kind in EXISTENCE else "poison"
    target_id, spec = entry["matching"][0]
    if kind in EXISTENCE:
        return "1"
    if kind == "target_type_id":
        return str(target_id)
    if kind == "enumval_value":
        value = ENUM_VALUE.search(spec)
        return value["value"] if value else "match"
    if kind == "byte_off":
        offset = OFFSET.search(spec)
        if offset and offset["bit"] is None:
            return offset["byte"]
    return "match"


def rows(records: list[dict], gen: dict, load: dict) -> list[dict]:
    out = []
    for record in records:
        key = (record["section"], record["relo"])
        row = dict(record, candidates="", target="", gen="", load_prog="", load_insn="", load="", value="", note="")
        row["local"] = gen.get(key, load.get(key, {})).get("local", "")
        notes = []
        if key in gen:
            entry = gen[key]
            row["candidates"] = f"{len(entry['matching'])}/{entry['candidates']}"
            row["target"] = " | ".join(f"[{i}] {s}" for i, s in entry["matching"])
            row["gen"] = gen_value(record["kind"], entry)
            notes += [f"gen: {n}" for n in entry["notes"]]
        if key in load:
            entry = load[key]
            row["load_prog"] = entry["prog"]
            row["load_insn"] = str(entry.get("load_insn", ""))
            row["load"] = entry.get("load", "")
            notes += [f"load: {n}" for n in entry["notes"]]
        row["value"] = row["load"] or row["gen"]
        if row["load"] and row["gen"] not in ("", "match", row["load"]):
            notes.append(f"gen {row['gen']} != load {row['load']}")
        row["note"] = "; ".join(notes)
        out.append(row)
    return out


# --- running bpftool ----------------------------------------------------------------------------------------------

def run_bpftool(command: list[str], timeout: float) -> tuple[str, list[str]]:
    """(status, libbpf's CO-RE lines): status is `ok`, `exit N: bpftool's error` or `timeout`."""

    def read(log):
        lines, last = [], ""
        for line in log:
            if line.startswith("libbpf: ") and (" relo #" in line or "CO-RE" in line):
                lines.append(line)
            elif line.startswith("Error:"):
                last = line.strip()[:200]
        return lines, last

    code, (lines, last) = run_captured(command, timeout, read)
    status = "timeout" if code is None else "ok" if code == 0 else f"exit {code}"
    if last and code:
        status += ": " + last
    return status, lines


def truth(job: tuple[str, str, str, str, dict]) -> tuple[str, str, dict]:
    obj, rel, target, target_btf, options = job
    try:
        records = core_records(obj)
    except (ValueError, struct.error, IndexError, ELFError) as error:
        return rel, target, {"status": f"unreadable: {error}"}
    if not records:
        return rel, target, {"status": "no CO-RE relocations"}
    gen = load = {}
    summary = {"status": "ok", "relos": len(records)}
    bpftool, timeout = options["bpftool"], options["timeout"]
    if options["mode"] in ("gen", "both"):
        with tempfile.TemporaryDirectory() as scratch:
            status, lines = run_bpftool(
                [bpftool, "-d", "gen", "min_core_btf", target_btf, os.path.join(scratch, "min.btf"), obj], timeout
            )
        gen = parse_log(lines, "gen")
        summary["gen"] = status
    if options["mode"] in ("load", "both"):
        # a bpffs of its own in a private mount namespace: maps pinned by name never reach the host's bpffs
        command = [*private_bpffs('exec "$@"'), bpftool, "-d", "prog", "loadall", obj, f"{BPFFS}/kbgen-truth",
                   "kernel_btf", target_btf]
        status, lines = run_bpftool(command, timeout)
        load = parse_log(lines, "load")
        summary["load"] = status
    table = rows(records, gen, load)
    write_tsv(os.path.join(options["out"], target, rel.replace("/", "__") + ".tsv"), COLUMNS, table)
    summary["gen_logged"] = sum(1 for r in table if r["gen"])
    summary["load_logged"] = sum(1 for r in table if r["load"])
    summary["poison"] = sum(1 for r in table if r["value"] == "poison")
    summary["absent"] = sum(1 for r in table if r["value"] == "0" and r["kind"] in EXISTENCE)
    summary["disagree"] = sum(1 for r in table if "!=" in r["note"])
    return rel, target, summary


def write_tsv(path: str, columns, table) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as handle:
        handle.write("\t".join(columns) + "\n")
        handle.writelines("\t".join(str(row.get(c, "")).replace("\t", " ") for c in columns) + "\n" for row in table)
    os.replace(path + ".tmp", path)


# --- targets and corpus -------------------------------------------------------------------------------------------

def target_btf(name: str, path: str, out: str) -> str:
    """A raw BTF file for PATH: itself, or extracted by kbgen's kernel image reader."""
    with open(path, "rb") as handle:
        head = handle.read(2)
    if head == b"\x9f\xeb":
        return path
    sys.path.insert(0, ROOT)
    from kb.formats.kimage import read_kernel_btf

    raw = os.path.join(out, "targets", name + ".btf")
    if not os.path.exists(raw):
        os.makedirs(os.path.dirname(raw), exist_ok=True)
        with open(raw + ".tmp", "wb") as handle:
            handle.write(read_kernel_btf(path).btf)
        os.replace(raw + ".tmp", raw)
    return raw


def digest(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("out")
    parser.add_argument("--target", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--bpftool", default="bpftool")
    parser.add_argument("--mode", choices=("gen", "load", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    if args.mode != "gen" and (not shutil.which("unshare") or os.geteuid() != 0):
        print(f"core_truth: --mode {args.mode} needs root and unshare(1) (loads run over a private bpffs)",
              file=sys.stderr)
        return 2
    targets = {}
    for spec in args.target:
        name, _, path = spec.partition("=")
        targets[name] = target_btf(name, path, args.out)
    options = {"bpftool": args.bpftool, "mode": args.mode, "timeout": args.timeout, "out": args.out}
    jobs = [
        (obj, os.path.relpath(obj, args.corpus), name, btf, options)
        for obj in objects(args.corpus) for name, btf in targets.items()
    ]
    summary = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for rel, target, result in pool.map(truth, jobs):
            summary.append(dict(result, object=rel, target=target))
    write_tsv(
        os.path.join(args.out, "summary.tsv"),
        ("object", "target", "status", "relos", "gen", "load", "gen_logged", "load_logged", "poison", "absent",
         "disagree"),
        summary,
    )
    write_tsv(
        os.path.join(args.out, "targets.tsv"), ("name", "btf", "sha256"),
        [{"name": n, "btf": p, "sha256": digest(p)} for n, p in targets.items()],
    )
    with_relos = [s for s in summary if s.get("relos")]
    print(f"{len(jobs)} pairs, {len({s['object'] for s in with_relos})} objects with CO-RE relocations")
    for name in targets:
        mine = [s for s in with_relos if s["target"] == name]
        print(f"{name}: {sum(s['relos'] for s in mine)} relocations, gen logged {sum(s['gen_logged'] for s in mine)},"
              f" load logged {sum(s['load_logged'] for s in mine)}, poisoned {sum(s['poison'] for s in mine)},"
              f" absent {sum(s['absent'] for s in mine)}, gen/load disagree {sum(s['disagree'] for s in mine)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
