"""Mine libbpf's section-definition table at every release tag and print what it says.

    python bench/mine_libbpf_sections.py /path/to/libbpf [--tags v1.0.0 v1.7.0 ...] [--name SEC ...] [--changes]

Prints: how many release tags have a table and how long mining took, the number of entries per release, the
matching-rule changes, and for each section name the entry the newest release picks, the first release that
understands the name at all (under that release's own rules and default mode), the first release that loads
it the way the newest one does, and where libbpf's opt-in strict mode of v0.6 - v0.8 would differ.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from collectors.libbpf_sections import RULE_CHANGES, MinedSections, SectionDef, mine_history
from kb.vocab.errors import KbgenError

NAMES = [
    "kprobe/do_sys_open", "kretprobe/x", "tracepoint/syscalls/sys_enter_open", "tp_btf/sched_switch",
    "fentry/do_unlinkat", "fexit/x", "lsm/file_open", "lsm.s/bprm_committed_creds", "struct_ops/x",
    ".struct_ops", "xdp", "xdp.frags", "classifier", "tc", "tcx/ingress", "netkit/primary", "cgroup_skb/ingress",
    "uprobe.multi/x", "kprobe.multi/x", "ksyscall/x", "usdt/x", "iter/task", "iter.s/task", "sk_lookup", "syscall",
    "netfilter", "socket", "perf_event", "raw_tp/x", "raw_tracepoint.w/x", "sockops", "sk_msg", "flow_dissector",
    "freplace/x",
]


def describe(sec_def: SectionDef | None) -> str:
    if sec_def is None:
        return "-"
    flags = "|".join(sorted(sec_def.flags)) or "-"
    short = sec_def.prog_type.removeprefix("BPF_PROG_TYPE_")
    return f'"{sec_def.pattern}" {short} {sec_def.expected_attach_type or "-"} {flags}'


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def print_counts(mined: MinedSections) -> None:
    print("\nentries per release tag:")
    line = ""
    for release in mined.releases:
        cell = f"{release.tag}:{len(release.defs) if release.blob else 'no file'}"
        if len(line) + len(cell) > 110:
            print("  " + line)
            line = ""
        line += cell + "  "
    print("  " + line)
    wanted = [r for r in mined.releases if r.tag.startswith("v0.0.")] + [
        r for r in mined.releases if r.tag in ("v0.5.0", "v1.0.0")] + mined.releases[-1:]
    print("  asked for: " + ", ".join(f"{r.tag}={len(r.defs)}" for r in wanted))


def print_rules() -> None:
    print("\nmatching rules:")
    for change in RULE_CHANGES:
        print(f"  from {change.since:7} {change.rules:7} {change.commit[:12]} {change.subject}")


def print_names(mined: MinedSections, names: list[str]) -> None:
    newest = mined.releases[-1].tag
    rows = [["section name", f"{newest} entry", "first release (entry then)", "same as newest since",
             "strict mode (0.6-0.8)", "last release"]]
    for name in names:
        matches = mined.match(name)
        now = matches[-1].sec_def if matches and matches[-1] else None
        first = mined.first_release(name)
        same = mined.first_release(name, same_as_newest=True)
        strict_first = mined.first_release(name, strict=True)
        strict_note = ""
        if (strict_first and strict_first.tag) != (first and first.tag):
            strict_note = f"first {strict_first.tag if strict_first else 'never'}"
        last = next((m.tag for m in reversed(matches) if m), None)
        rows.append([
            name,
            describe(now),
            f"{first.tag} {describe(first.sec_def)}" if first else "never",
            same.tag if same else "-",
            strict_note,
            "" if now or last is None else last,
        ])
    print(f"\nsection names (rules and default mode of each release; newest release {newest}):")
    print_table(rows)


def print_changes(mined: MinedSections) -> None:
    print("\npatterns per release (+ first release that has it, - first release without it):")
    for release in mined.releases:
        added = sorted(p for p, presence in mined.patterns.items() if presence.first_release == release.tag)
        removed = sorted(p for p, presence in mined.patterns.items() if presence.removed_in == release.tag)
        if added or removed:
            print(f"  {release.tag:8} " + " ".join([f"+{p}" for p in added] + [f"-{p}" for p in removed]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="a libbpf git repository (clone or bare)")
    parser.add_argument("--tags", nargs="*", help="release tags to read (default: every v* version tag)")
    parser.add_argument("--name", action="append", help="section name to look up (repeatable; default: a list)")
    parser.add_argument("--changes", action="store_true", help="also list patterns added and removed per release")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        mined = mine_history(args.repo, args.tags)
    except KbgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    if not mined.releases:
        print(f"{args.repo}: no release tags", file=sys.stderr)
        return 2

    with_table = sum(1 for r in mined.releases if r.defs)
    print(f"{args.repo}: {len(mined.releases)} release tags, {with_table} with a section table, "
          f"{mined.blobs_parsed} distinct blobs parsed, {len(mined.patterns)} distinct patterns, "
          f"{len(mined.entries)} distinct (pattern, prog type, expected attach type); mined in {elapsed:.2f} s")
    print_counts(mined)
    print_rules()
    start = time.perf_counter()
    print_names(mined, args.name or NAMES)
    print(f"\n(matching {len(args.name or NAMES)} names against every release: {time.perf_counter() - start:.2f} s)")
    if args.changes:
        print_changes(mined)
    return 0


if __name__ == "__main__":
    sys.exit(main())
