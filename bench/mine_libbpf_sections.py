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
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from collectors.git import Repository
from collectors.libbpf_sections import ReleaseTable, release_tables
from kb.vocab.errors import KbgenError
from kb.vocab.sections import RULE_CHANGES, SectionDef, first_understood


@dataclass
class Presence:
    """Where a pattern is: the releases (version order) that have it and the first release after the last of
    them (``None`` while the newest release has it)."""

    releases: list[str]
    removed_in: str | None

    @property
    def first_release(self) -> str:
        return self.releases[0]


def presence(tables: list[ReleaseTable]) -> dict[str, Presence]:
    seen: dict[str, list[int]] = {}
    for index, table in enumerate(tables):
        for sec_def in table.defs:
            indexes = seen.setdefault(sec_def.pattern, [])
            if not indexes or indexes[-1] != index:
                indexes.append(index)
    return {pattern: Presence([tables[i].tag for i in indexes],
                              tables[indexes[-1] + 1].tag if indexes[-1] + 1 < len(tables) else None)
            for pattern, indexes in seen.items()}


def first_tag(tables: list[ReleaseTable], name: str, **options) -> tuple[str, SectionDef] | None:
    found = first_understood([t.table for t in tables], name, **options)
    return ("v" + found[0].release, found[1]) if found else None


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


def print_counts(tables: list[ReleaseTable]) -> None:
    print("\nentries per release tag:")
    line = ""
    for release in tables:
        cell = f"{release.tag}:{len(release.defs) if release.blob else 'no file'}"
        if len(line) + len(cell) > 110:
            print("  " + line)
            line = ""
        line += cell + "  "
    print("  " + line)
    wanted = [r for r in tables if r.tag.startswith("v0.0.")] + [
        r for r in tables if r.tag in ("v0.5.0", "v1.0.0")] + tables[-1:]
    print("  asked for: " + ", ".join(f"{r.tag}={len(r.defs)}" for r in wanted))


def print_rules() -> None:
    print("\nmatching rules:")
    for change in RULE_CHANGES:
        print(f"  from {change.since:7} {change.rules:7} {change.commit[:12]} {change.subject}")


def print_names(tables: list[ReleaseTable], names: list[str]) -> None:
    newest = tables[-1].tag
    rows = [["section name", f"{newest} entry", "first release (entry then)", "same as newest since",
             "strict mode (0.6-0.8)", "last release"]]
    for name in names:
        matches = [t.table.match(name) for t in tables]
        now = matches[-1]
        first = first_tag(tables, name, same_as_newest=False)
        same = first_tag(tables, name)
        strict = next((t.tag for t in tables if t.table.match(name, strict=True)), None)
        strict_note = f"first {strict or 'never'}" if strict != (first and first[0]) else ""
        last = next((t.tag for t, m in zip(reversed(tables), reversed(matches)) if m), None)
        rows.append([
            name,
            describe(now),
            f"{first[0]} {describe(first[1])}" if first else "never",
            same[0] if same else "-",
            strict_note,
            "" if now or last is None else last,
        ])
    print(f"\nsection names (rules and default mode of each release; newest release {newest}):")
    print_table(rows)


def print_changes(tables: list[ReleaseTable]) -> None:
    print("\npatterns per release (+ first release that has it, - first release without it):")
    patterns = presence(tables)
    for release in tables:
        added = sorted(p for p, where in patterns.items() if where.first_release == release.tag)
        removed = sorted(p for p, where in patterns.items() if where.removed_in == release.tag)
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
    warnings: list[str] = []
    try:
        tables = release_tables(Repository(args.repo), args.tags, warnings)
    except KbgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    if not tables:
        print(f"{args.repo}: no release tags", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)

    with_table = sum(1 for r in tables if r.defs)
    entries = {d.key for t in tables for d in t.defs}
    print(f"{args.repo}: {len(tables)} release tags, {with_table} with a section table, "
          f"{len({t.blob for t in tables if t.blob})} distinct blobs parsed, {len(presence(tables))} distinct "
          f"patterns, {len(entries)} distinct (pattern, prog type, expected attach type); mined in {elapsed:.2f} s")
    print_counts(tables)
    print_rules()
    start = time.perf_counter()
    print_names(tables, args.name or NAMES)
    print(f"\n(matching {len(args.name or NAMES)} names against every release: {time.perf_counter() - start:.2f} s)")
    if args.changes:
        print_changes(tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
