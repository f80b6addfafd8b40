"""Live probe of the running kernel: every program type, map type and helper, with counts and timing.

    python bench/bench_live_probe.py [--source btf|header] [--deadline 50] [--repeat 1]

Takes the enumerators to probe from the running kernel's BTF (/sys/kernel/btf/vmlinux: enum bpf_prog_type,
bpf_map_type, bpf_func_id) or from the installed /usr/include/linux/bpf.h, and runs
collectors.live.probe_live() over all of them.  Needs root (or CAP_BPF with CAP_PERFMON and CAP_NET_ADMIN).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from collectors.live import BpfUnavailableError, probe_live

VMLINUX = "/sys/kernel/btf/vmlinux"
HEADER = "/usr/include/linux/bpf.h"


def from_btf() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    from kb.formats.btf import enums
    from kb.formats.btf.reader import parse_btf

    with open(VMLINUX, "rb") as handle:
        btf = parse_btf(handle.read())

    def members(name: str) -> dict[str, int]:
        enum = btf.by_name(name, enums.KIND_ENUM)[0]
        return {member[0]: member[1] for member in enum.members if not member[0].startswith("__")}

    return members("bpf_prog_type"), members("bpf_map_type"), members("bpf_func_id")


def from_header() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    from kb.formats.header import parse_header

    with open(HEADER) as handle:
        facts = parse_header(handle.read())
    enums = facts.enums
    return ({e.name: e.value for e in enums["prog_type"]}, {e.name: e.value for e in enums["map_type"]},
            {e.name: e.value for e in facts.helpers})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("btf", "header"), default="btf" if os.path.exists(VMLINUX) else "header")
    parser.add_argument("--deadline", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=1, help="run the whole probe this many times")
    args = parser.parse_args()
    progs, maps, helpers = from_btf() if args.source == "btf" else from_header()
    runs = []
    for _ in range(args.repeat):
        try:
            runs.append(probe_live(progs, maps, helpers, deadline_s=args.deadline))
        except BpfUnavailableError as refused:
            print(f"bench_live_probe: {refused}", file=sys.stderr)
            sys.exit(2)
    result = runs[-1]
    print(f"kernel {result.kernel_release} ({result.machine}); enumerators from {args.source}: "
          f"{len(progs)} program types, {len(maps)} map types, {len(helpers)} helper ids")
    for label, verdicts in (("program types", result.prog_types), ("map types", result.map_types)):
        yes = [n for n, v in verdicts.items() if v.supported]
        no = {n: v.how for n, v in verdicts.items() if v.supported is False}
        unknown = {n: v.how for n, v in verdicts.items() if v.supported is None}
        print(f"{label}: {len(verdicts)} probed, {len(yes)} supported, {len(no)} not, {len(unknown)} undecided")
        for name, how in (no | unknown).items():
            print(f"    {name}: {how}")
    accepted = sum(len(s.accepted) for s in result.helpers.values())
    refused = sum(len(s.refused) for s in result.helpers.values())
    undecided = sum(len(s.undecided) for s in result.helpers.values())
    print(f"helpers: {result.timing.helper_pairs} (program type, helper) pairs probed over {len(result.helpers)}"
          f" program types: {accepted} accepted, {refused} refused; {undecided} pairs undecided")
    for name, support in result.helpers.items():
        reasons = sorted(set(support.undecided.values()))
        extra = f", undecided: {reasons[0]}" if len(reasons) == 1 else ""
        print(f"    {name}: {len(support.accepted)} accepted, {len(support.refused)} refused{extra}")
    t = result.timing
    per_pair = t.helpers_s / t.helper_pairs * 1e6 if t.helper_pairs else 0.0
    print(f"time: {t.total_s:.3f} s total (program types {t.prog_types_s * 1e3:.1f} ms, map types "
          f"{t.map_types_s * 1e3:.1f} ms, helpers {t.helpers_s:.3f} s = {per_pair:.0f} us a pair); "
          f"{t.syscalls} bpf() calls; deadline {t.deadline_s:g} s {'HIT' if t.deadline_hit else 'not hit'}")
    if len(runs) > 1:
        totals = [run.timing.total_s for run in runs]
        print(f"over {len(runs)} runs: median {statistics.median(totals):.3f} s, max {max(totals):.3f} s")


if __name__ == "__main__":
    main()
