"""kbgen's CO-RE resolution (kb.formats.btf.core) against libbpf's own, relocation by relocation.

    python bench/bench_core.py [--corpus /work/corpus] [--truth /work/corpus/core-truth] [--show 5]

The truth is bench/core_truth.py's output: per target NAME, TRUTH/targets/NAME.btf and one TSV per object
(TRUTH/NAME/<object path with / as __>.tsv) with libbpf's value for each relocation (`value`: the patched value
from a load, else what bpftool's gen log states: a number, `match` where it states no number, `poison`, `error`, or
empty where libbpf logged nothing).  Each object of the corpus is read by kbgen, each relocation resolved against the
same target BTF, and compared:

* a number: kbgen's value must be that number;
* `match`: kbgen must resolve it (any value);
* `poison`: kbgen must poison it (no candidate matches);
* `error`: kbgen must refuse it (ambiguous, malformed);
* empty: not compared (libbpf never reached it).

Prints per target the relocations compared, agreed, and each kind of disagreement with examples; exits 0.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from kb.formats.bpf.elfobject import ObjectError, read_object
from kb.formats.btf import core
from kb.formats.btf.reader import parse_btf

csv.field_size_limit(1 << 24)


def kbgen_value(resolution: core.Resolution) -> str:
    if resolution.error:
        return "error"
    if resolution.value is None:
        return "poison"
    return str(resolution.value)


def agrees(truth: str, ours: str) -> bool:
    if truth == "match":
        return ours not in ("poison", "error")
    if truth.lstrip("-").isdigit() and ours.lstrip("-").isdigit():
        return int(truth) % (1 << 64) == int(ours) % (1 << 64)  # ldimm64 values are logged unsigned
    return truth == ours


def compare_target(name: str, truth_dir: str, corpus: str, show: int) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    started = time.perf_counter()
    with open(os.path.join(truth_dir, "targets", f"{name}.btf"), "rb") as handle:
        target = core.Target(parse_btf(handle.read()), name)
    for table in sorted(os.listdir(os.path.join(truth_dir, name))):
        path = os.path.join(corpus, table.removesuffix(".tsv").replace("__", "/"))
        try:
            obj = read_object(path)
        except (ObjectError, OSError) as err:
            counts["object unreadable"] += 1
            examples["object unreadable"].append(f"{path}: {err}")
            continue
        sites = {}
        for site in obj.core:
            key = (site.section, site.relocation.insn_offset // 8, site.relocation.kind_name, site.relocation.access)
            sites.setdefault(key, site)
        with open(os.path.join(truth_dir, name, table), newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                truth = row["value"]
                if not truth:
                    counts["not logged by libbpf"] += 1
                    continue
                site = sites.get((row["section"], int(row["insn"]), row["kind"], row["access"]))
                if site is None:
                    counts["record not found by kbgen"] += 1
                    continue
                ours = kbgen_value(core.resolve(obj.btf, site.relocation, target))
                counts["compared"] += 1
                if agrees(truth, ours):
                    counts["agreed"] += 1
                else:
                    what = f"{row['kind']}: libbpf {truth if not truth.isdigit() else 'N'}, kbgen " \
                           f"{ours if not ours.isdigit() else 'N'}"
                    counts[f"disagree {what}"] += 1
                    if len(examples[what]) < show:
                        examples[what].append(f"{table}: {row['section']} #{row['relo']} {site.local} "
                                              f"({row['access']}): libbpf {truth}, kbgen {ours}")
    counts["seconds"] = round(time.perf_counter() - started)
    print(f"== {name}: {counts['compared']} relocations compared, {counts['agreed']} agreed "
          f"({100 * counts['agreed'] / max(counts['compared'], 1):.2f}%), {counts['seconds']} s")
    for key, value in sorted(counts.items()):
        if key not in ("compared", "agreed", "seconds"):
            print(f"   {key}: {value}")
    for what, lines in sorted(examples.items()):
        for line in lines:
            print(f"     {what} | {line}")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="/work/corpus")
    parser.add_argument("--truth", default="/work/corpus/core-truth")
    parser.add_argument("--target", action="append", help="only these targets (names under TRUTH)")
    parser.add_argument("--show", type=int, default=3, help="examples per kind of disagreement")
    args = parser.parse_args()
    names = args.target or sorted(n for n in os.listdir(args.truth) if os.path.isdir(os.path.join(args.truth, n))
                                  and n != "targets" and os.path.exists(os.path.join(args.truth, "targets",
                                                                                     f"{n}.btf")))
    total: collections.Counter = collections.Counter()
    for name in names:
        total += compare_target(name, args.truth, args.corpus, args.show)
    print(f"== all {len(names)} targets: {total['compared']} compared, {total['agreed']} agreed "
          f"({100 * total['agreed'] / max(total['compared'], 1):.2f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
