"""Text for people: what ``kbgen info``, ``diff`` and ``collect`` print.  Data in, text out."""

from __future__ import annotations

from kb.outputs.textable import render_table
from kb.vocab.kinds import is_numbered


def _release(item) -> str:
    if item.first_release:
        return item.first_release
    by = getattr(item, "first_release_by", None)
    if by:
        after = item.first_release_after
        return (f"between {after} and {by}" if after else f"{by} or earlier") + " (not established exactly)"
    return "not in any release yet" if item.unreleased else "unknown"


def info(infos) -> str:
    from kb.vocab.facts import windows_text  # not loaded by what collect prints

    blocks = []
    for entry in infos:
        item = entry.item
        label = f"{item.value}  {item.name}" if is_numbered(item.kind) else item.value
        lines = [f"{item.kind} {label}"]
        fields = [
            ("first release", _release(item)),
            ("removed in", item.removed_in),
            ("windows", windows_text(item.windows) if len(item.windows) > 1 else None),
            ("first rc", item.first_rc),
            ("commit", item.commit),
            ("subject", item.subject),
            ("author", f"{item.author}, {item.date}" if item.author else None),
            ("names", ", ".join(item.names)),
            ("title", item.title),
            ("GPL only", {True: "yes", False: "no"}.get(item.gpl_only)),
            ("detect", item.detect),
            ("libbpf", item.libbpf),
            ("source", item.source),
            ("other commit", item.alt_commit),
            ("note", item.note),
        ]
        if entry.verdict is not None:
            fields.insert(0, ("on the kernel", f"{entry.where.label}: {entry.verdict.reason}"))
            if entry.where.approximate:
                fields.insert(1, ("approximate", entry.where.approximate))
        if item.signature:
            fields.append(("signature", item.signature))
        fields += [("signature", doc.signature) for doc in entry.docs]
        by_relation: dict[tuple, list[str]] = {}
        for rel in entry.relations:
            label = {"callable_from": "program types", "works_with": "map types"}.get(rel.relation, rel.relation)
            by_relation.setdefault((label, rel.qualifier or rel.source), []).append(rel.other_name or str(rel.other_value))
        for (label, qualifier), names in by_relation.items():
            fields.append((label, f"({qualifier}) " + ", ".join(names)))
        for d in entry.disagreements:
            fields.append(("disagreement", f"{d.field}: {d.used} ({d.used_source}) vs {d.other} ({d.other_source})"))
        lines += [f"  {label:<16}{value}" for label, value in fields if value]
        if entry.docs:
            doc = entry.docs[0]
            lines.append("")
            lines += ["  " + line if line else "" for line in doc.description.splitlines()]
            lines.append("")
            lines.append("  Returns: " + doc.returns.replace("\n", "\n           "))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def diff(result) -> str:
    out = []
    for label, changes in (("arrived", result.arrived), ("removed", result.removed)):
        if not changes:
            continue
        table = render_table(
            ["release", "kind", "id", "name"],
            [[c.release or c.arrival, c.item.kind, "" if isinstance(c.item.value, str) else c.item.value, c.item.name]
             for c in changes],
        )
        out.append(table + f"{len(changes)} items {label} in {result.tree} after {result.old} up to {result.new}\n")
    if not out:
        return f"nothing arrived or was removed in {result.tree} after {result.old} up to {result.new}\n"
    return "\n".join(out)


def collect(result) -> str:
    lines = []
    for source in result.sources:
        if source.status == "up to date":
            lines.append(f"{result.tree}: {source.source} up to date ({result.db})")
            continue
        lines.append(f"{result.tree}: {source.items} items, {source.releases} releases, "
                     f"{source.unreleased} not in any release, from {source.source} ({result.db})")
    return "\n".join(lines) + "\n"


def _differences(title: str, rows, describe) -> list[str]:
    if not rows:
        return []
    lines = [f"{title} ({len(rows)}):"]
    lines += [f"  {r.kind:<12} {'' if isinstance(r.value, str) else r.value:<5} {r.name}  {describe(r)}" for r in rows]
    return lines


def probe(result) -> str:
    c = result.comparison
    lines = [f"{c.tree}: kernel build {c.release} (base {c.base}), from {result.source} ({result.container})",
             "  " + ", ".join(f"{n} {kind}s" for kind, n in c.counts.items()) + ("" if c.kfuncs_tagged else
                                                                                  "; kfuncs not tagged")]
    lines += [f"  note: {w}" for w in result.warnings]
    lines += _differences(f"In this build, in mainline only after {c.base} (backports)", c.backports,
                          lambda r: f"mainline {r.mainline_first_release}")
    lines += _differences(f"In this build, gone from mainline by {c.base}", c.kept,
                          lambda r: f"mainline {r.mainline_first_release}..{r.mainline_removed_in}")
    lines += _differences(f"In mainline {c.base}, not in this build (configured out, or removed)", c.lacking,
                          lambda r: f"mainline {r.mainline_first_release}")
    lines += _differences("Unknown to the knowledge base (newer, or vendor-only)", c.unknown, lambda r: "")
    lines += _differences("Registered by its modules (there once the module is loaded)", c.in_modules,
                          lambda r: r.note)
    if result.live is not None:
        live = result.live
        loads = sorted(n for n, v in live.prog_types.items() if v.supported)
        refused = sorted(n for n, v in live.prog_types.items() if v.supported is False)
        lines.append(f"Live probe: {len(loads)} program types load, {len(refused)} do not"
                     + (f" ({', '.join(refused)})" if refused else "")
                     + f"; {sum(1 for v in live.map_types.values() if v.supported)} map types;"
                     f" {live.timing.helper_pairs} (program type, helper) pairs probed in {live.timing.total_s:.2f} s,"
                     f" {c.accepted_pairs} accepted, {c.undocumented_pairs} of them missing from mainline's"
                     " as-documented lists")
    return "\n".join(lines) + "\n"


def probe_json(result) -> str:
    import json

    c = result.comparison

    def rows(differences):
        return [{"kind": d.kind, "id": d.value, "name": d.name, "mainline_first_release": d.mainline_first_release,
                 "mainline_removed_in": d.mainline_removed_in} for d in differences]

    document = {
        "tree": c.tree, "release": c.release, "base": c.base, "source": result.source,
        "container": result.container, "kfuncs_tagged": c.kfuncs_tagged,
        **{kind: names for kind, names in c.names.items()},
        "backports": rows(c.backports), "kept": rows(c.kept), "lacking": rows(c.lacking),
        "unknown": rows(c.unknown), "warnings": result.warnings,
        "in_modules": [dict(row, note=d.note) for row, d in zip(rows(c.in_modules), c.in_modules)],
    }
    if result.live is not None:
        live = result.live
        document["live"] = {
            "prog_types": {n: v.supported for n, v in sorted(live.prog_types.items())},
            "map_types": {n: v.supported for n, v in sorted(live.map_types.items())},
            "accepts": c.accepts,
            "probed_pairs": live.timing.helper_pairs,
            "accepted_pairs": c.accepted_pairs,
            "undocumented_pairs": c.undocumented_pairs,
            "seconds": round(live.timing.total_s, 3),
        }
    return json.dumps(document, indent=2) + "\n"


def _change(change) -> dict:
    item = change.item
    return {"release": change.release, "arrival": change.arrival, "kind": item.kind, "id": item.value,
            "name": item.name}


def diff_json(result) -> str:
    """``kbgen diff --format json``: what arrived and what was removed, each change with its release."""
    import json

    document = {"tree": result.tree, "old": result.old, "new": result.new,
                "arrived": [_change(c) for c in result.arrived], "removed": [_change(c) for c in result.removed]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def info_json(infos) -> str:
    """``kbgen info --format json``: each item as its export record (kb.outputs.export) with its documentation,
    relations and disagreements, and, with --kernel, where the kernel was placed and the verdict."""
    import json

    from kb.outputs.export import record

    items = []
    for entry in infos:
        document = {"tree": entry.tree, **record(entry.item),
                    "docs": [{"signature": d.signature, "description": d.description, "returns": d.returns}
                             for d in entry.docs],
                    "relations": [{"relation": r.relation, "kind": r.other_kind, "id": r.other_value,
                                   "name": r.other_name, "source": r.source, "qualifier": r.qualifier}
                                  for r in entry.relations],
                    "disagreements": [{"field": d.field, "used": d.used, "used_source": d.used_source,
                                       "other": d.other, "other_source": d.other_source, "note": d.note}
                                      for d in entry.disagreements]}
        if entry.verdict is not None:
            where = entry.where
            document["kernel"] = {
                "kernel": where.kernel, "tree": where.tree, "release": where.release,
                "approximate": where.approximate, "beyond": where.beyond,
                "status": entry.verdict.status, "available": entry.verdict.available,
                "since": entry.verdict.since, "removed_in": entry.verdict.removed_in, "reason": entry.verdict.reason,
                "arrival": entry.verdict.arrival}
        items.append(document)
    return json.dumps({"items": items}, indent=2, ensure_ascii=False) + "\n"
