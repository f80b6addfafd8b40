"""What kbgen's Datasette pages say beyond Datasette's own tables: the landing page, an item's card, a tree's
page (a build's backports and what it lacks), a release's page.

Data in (an async *execute* of SQL on the published database, rows as dicts), dicts out: the templates in
kb/datasette_templates lay them out and the plugin (kb/datasette_plugins) wires them to Datasette.  URLs
come from a :class:`Links`, so this module knows nothing of Datasette's URL scheme.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from markupsafe import Markup

from kb.site import canned, rest, timeline
from kb.vocab.facts import AS_DOCUMENTED, CALLABLE_FROM, PROBED, WORKS_WITH, Window
from kb.vocab.kinds import (
    HELPER,
    KIND_OF_TABLE,
    KINDS,
    MAINLINE,
    TABLE_OF_KIND,
    is_numbered,
)
from kb.vocab.releases import BUILD_SCHEME

Execute = Callable[..., Awaitable[list[dict]]]

UPSTREAM_COMMIT = "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id={sha}"
MAN_PAGE = "https://man7.org/linux/man-pages/man7/bpf-helpers.7.html"
EBPF_DOCS = "https://docs.ebpf.io/linux/"
QUALIFIER_WORDS = {
    AS_DOCUMENTED: "as documented (for the newest documented kernel; absence means not documented, not refused)",
    PROBED: "probed (a live probe of this build saw the verifier accept it)",
}
PUBLISHED_SQL = "select value from kb_meta where key = 'published_tree'"



def word_of(kind: str) -> str:
    """What people call an item of *kind* ("program type"); an unknown kind as it is."""
    return KINDS[kind].word if kind in KINDS else kind

@dataclass(frozen=True)
class Links:
    row: Callable[[str, tuple], str]  # (table, primary key values) -> the row's page
    table: Callable[[str, dict], str]  # (table, column filters) -> the table's page, filtered
    query: Callable[[str, dict], str]  # (canned query, parameters) -> its page


async def published_tree(execute: Execute) -> str:
    rows = await execute(PUBLISHED_SQL)
    return rows[0]["value"] if rows else MAINLINE


def item_url(links: Links, published: str, tree: str, kind: str, value) -> str:
    """An item's page: its row of the per-kind table for the published tree, of ``items`` for another tree."""
    if tree == published and kind in TABLE_OF_KIND:
        return links.row(TABLE_OF_KIND[kind], (value,))
    return links.row("items", (tree, kind, value))


def commit_url(tree: str, sha: str | None) -> str | None:
    """Upstream commits are mainline's; another tree's shas are shown, not linked."""
    return UPSTREAM_COMMIT.format(sha=sha) if sha and tree == MAINLINE and len(sha) == 40 else None


def doc_links(kind: str, name: str, signature: str | None = None) -> list[tuple[str, str]]:
    """The man page and ebpf-docs pages about an item (helpers carry their name without ``bpf_``)."""
    if name.endswith("UNSPEC") or name == "unspec":
        return []
    full = f"bpf_{name}" if kind == HELPER else name
    links = []
    if kind == HELPER:
        # A text fragment to the prototype: "bpf_NAME(" and its first argument word, which no description has.
        fragment = quote(f"{full}({rest.first_argument(signature) or ''}", safe="")
        links.append(("bpf-helpers(7) man page", f"{MAN_PAGE}#:~:text={fragment}"))
    section = KINDS[kind].docs_section if kind in KINDS else None
    if section:
        links.append(("ebpf-docs", f"{EBPF_DOCS}{section}/{full}/"))
    return links


def availability_words(tree: str, scheme: str | None, windows: list[Window], unreleased: bool,
                       first_rc: str | None = None) -> str:
    """In words, from which release of *tree* an item is available and when it was removed."""
    if not windows:
        if unreleased:
            return f"In the newest revision of {tree}, but in no release of it yet."
        return f"No release of {tree} is known to have it."
    if scheme == BUILD_SCHEME:
        return f"Present in the build {windows[0].since}."
    where = "Linux " if tree == MAINLINE else f"{tree} "
    spans = []
    for index, window in enumerate(windows):
        start = f"from {where}{window.since or 'an unknown release'}" if index == 0 else f"again from {window.since}"
        spans.append(f"{start} until {window.until}" if window.until else f"{start} on")
    sentence = "Available " + ", and ".join(spans) + "."
    if windows[-1].until:
        sentence += f" Removed in {windows[-1].until}."
    if first_rc:
        sentence += f" First seen in {first_rc}."
    return sentence


def gpl_words(gpl_only) -> str | None:
    if gpl_only is None:
        return None
    if gpl_only:
        return "GPL-only: the verifier refuses it to programs whose license is not GPL-compatible."
    return "Not GPL-only: programs under any license may call it."


async def _relations(execute: Execute, links: Links, published: str, tree: str, kind: str, value) -> list[dict]:
    """The relations of an item both ways, grouped: program types that can call it, map types it works with,
    helpers and kfuncs a program type can call, helpers that work with a map type."""
    rows = await execute(
        "select r.relation, r.kind, r.value, r.other_kind, r.other_value, coalesce(r.qualifier, '') as qualifier,"
        " coalesce(i.name, cast(r.other_value as text)) as other_name,"
        " coalesce(j.name, cast(r.value as text)) as own_name"
        " from relations r"
        " left join items i on i.tree = r.tree and i.kind = r.other_kind and i.value = r.other_value"
        " left join items j on j.tree = r.tree and j.kind = r.kind and j.value = r.value"
        " where r.tree = :tree and ((r.kind = :kind and r.value = :value)"
        "   or (r.other_kind = :kind and r.other_value = :value))"
        " order by r.relation, r.qualifier, r.kind, r.other_value, r.value",
        {"tree": tree, "kind": kind, "value": value})
    groups: dict[tuple, dict] = {}
    for row in rows:
        forward = row["kind"] == kind and row["value"] == value
        if forward:
            label = {CALLABLE_FROM: "Program types that can call it",
                     WORKS_WITH: "Map types it works with"}.get(row["relation"], row["relation"])
            other = (row["other_kind"], row["other_value"], row["other_name"])
        else:
            label = {CALLABLE_FROM: f"{word_of(row['kind']).capitalize()}s it can call",
                     WORKS_WITH: "Helpers that work with it"}.get(row["relation"], row["relation"])
            other = (row["kind"], row["value"], row["own_name"])
        group = groups.setdefault((label, row["qualifier"]), {
            "label": label, "qualifier": row["qualifier"],
            "qualifier_words": QUALIFIER_WORDS.get(row["qualifier"], row["qualifier"]), "members": []})
        other_kind, other_value, other_name = other
        display = f"bpf_{other_name}" if other_kind == HELPER else other_name
        group["members"].append((display, item_url(links, published, tree, other_kind, other_value)))
    return list(groups.values())


async def item_card(execute: Execute, links: Links, table: str, pks: tuple) -> dict | None:
    """Everything an item's page says, for the row *pks* of *table* (a per-kind table, or ``items``)."""
    published = await published_tree(execute)
    if table in KIND_OF_TABLE:
        tree, kind, value = published, KIND_OF_TABLE[table], pks[0]
    elif table == "items" and len(pks) == 3:
        tree, kind, value = pks
    else:
        return None
    if is_numbered(kind):
        try:
            value = int(value)
        except ValueError:
            return None
    found = await execute("select i.*, t.scheme from items i join trees t on t.name = i.tree"
                          " where i.tree = :tree and i.kind = :kind and i.value = :value",
                          {"tree": tree, "kind": kind, "value": value})
    if not found:
        return None
    item = found[0]
    windows = [Window(w["since"], w["until"]) for w in await execute(
        "select since, until from windows where tree = :tree and kind = :kind and value = :value order by position",
        {"tree": tree, "kind": kind, "value": value})]
    names = [n["name"] for n in await execute(
        "select name from item_names where tree = :tree and kind = :kind and value = :value order by position",
        {"tree": tree, "kind": kind, "value": value})] or [item["name"]]
    docs = await execute("select signature, description, returns from helper_docs where tree = :tree"
                         " and value = :value order by variant", {"tree": tree, "value": value}) \
        if kind == HELPER else []
    signature = item["signature"] or (docs[0]["signature"] if docs else None)
    others = await execute(
        "select i.tree, i.first_release, i.removed_in, t.scheme from items i join trees t on t.name = i.tree"
        " where i.kind = :kind and i.value = :value and i.tree <> :tree order by i.tree",
        {"tree": tree, "kind": kind, "value": value})
    disagreements = await execute(
        "select field, used, used_source, other, other_source, note from disagreements"
        " where tree = :tree and kind = :kind and value = :value order by field, rowid",
        {"tree": tree, "kind": kind, "value": value})
    display = f"bpf_{item['name']}" if kind == HELPER else item["name"]
    return {
        "tree": tree, "kind": kind, "kind_words": word_of(kind), "value": value, "name": item["name"],
        "display_name": display, "heading": f"{word_of(kind)} {value}" if is_numbered(kind) else
        word_of(kind),
        "availability": availability_words(tree, item["scheme"], windows, bool(item["unreleased"]), item["first_rc"]),
        "first_release": item["first_release"], "removed_in": item["removed_in"],
        "release_url": links.query("arrived_in", {"release": item["first_release"]})
        if item["first_release"] and tree == published else None,
        "gpl": gpl_words(item["gpl_only"]),
        "relations": await _relations(execute, links, published, tree, kind, value),
        "commit": item["introduced_by"], "commit_url": commit_url(tree, item["introduced_by"]),
        "subject": item["subject"], "author": item["author"], "date": item["date"],
        "alt_commit": item["alt_commit"], "alt_commit_url": commit_url(tree, item["alt_commit"]),
        "docs": doc_links(kind, item["name"], signature),
        "names": [f"bpf_{n}" for n in names] if kind == HELPER else names,
        "signature": rest.signature(signature) if kind == HELPER else signature,
        "description": rest.to_html(docs[0]["description"]) if docs else None,
        "returns": rest.to_html(docs[0]["returns"]) if docs else None,
        "title": item["title"], "detect": item["detect"], "libbpf": item["libbpf"],
        "note": item["note"], "source": item["source"],
        "source_url": links.row("sources", (item["source"],)) if item["source"] else None,
        "disagreements": disagreements,
        "other_trees": [{"tree": o["tree"], "url": item_url(links, published, o["tree"], kind, value),
                         "words": availability_words(o["tree"], o["scheme"], [Window(o["first_release"],
                                                     o["removed_in"])] if o["first_release"] else [], False)}
                        for o in others],
        "tree_url": links.row("trees", (tree,)),
    }


async def compare(execute: Execute, links: Links, tree: str, release: str = "") -> dict[str, list[dict]]:
    """A tree's release against mainline (kb.canned's compare_with_mainline), grouped by change, each row with
    the page of its item (mainline's, for what the tree lacks)."""
    published = await published_tree(execute)
    grouped: dict[str, list[dict]] = {}
    for row in await execute(canned.COMPARE, {"tree": tree, "release": release}):
        if row["change"]:
            row["url"] = item_url(links, published, row["tree"], row["kind"], row["id"])
            grouped.setdefault(row["change"], []).append(row)
    return grouped


async def tree_card(execute: Execute, links: Links, name: str) -> dict | None:
    found = await execute("select * from trees where name = :name", {"name": name})
    if not found:
        return None
    tree = found[0]
    published = await published_tree(execute)
    releases = await execute("select version, base, tag, uname from releases where tree = :name order by sort_key",
                             {"name": name})
    counts = await execute("select kind, count(*) as n from items where tree = :name group by kind"
                           f" order by {canned.kind_order('kind')}", {"name": name})
    sources = await execute("select c.source, c.collector, c.qualifier, c.items, s.description from collections c"
                            " left join sources s on s.id = c.source where c.tree = :name order by c.source",
                            {"name": name})
    sections = await execute("select count(distinct release) as n from section_rules where tree = :name",
                             {"name": name})
    comparison = await compare(execute, links, name) if name != MAINLINE and releases and counts else {}
    window_releases = [] if releases else [
        {"version": r["since"], "url": links.query("arrived_in", {"release": r["since"]})
         if name == published else links.table("windows", {"tree": name, "since": r["since"]})}
        for r in await execute("select since from windows where tree = :name and since_key is not null"
                               " group by since_key order by since_key", {"name": name})]
    return {
        "tree": tree, "is_build": tree["scheme"] == BUILD_SCHEME, "published": name == published,
        "releases": [dict(r, url=links.row("releases", (name, r["version"]))) for r in releases[-200:]],
        "releases_total": len(releases), "releases_url": links.table("releases", {"tree": name}),
        "window_releases": window_releases,
        "counts": [dict(c, url=links.table("items", {"tree": name, "kind": c["kind"]}),
                        words=word_of(c["kind"])) for c in counts],
        "sources": sources, "comparison": comparison, "compared": bool(comparison) or bool(
            name != MAINLINE and releases and counts),
        "section_tables": sections[0]["n"] if sections else 0,
        "section_rules_url": links.table("section_rules", {"tree": name}),
        "compare_url": links.query("compare_with_mainline", {"tree": name, "release": ""}),
        "newest": releases[-1]["version"] if releases else None,
        "base": (releases[-1]["base"] or releases[-1]["version"]) if releases else None,
    }


async def release_card(execute: Execute, links: Links, tree: str, version: str) -> dict | None:
    found = await execute("select r.*, t.scheme from releases r join trees t on t.name = r.tree"
                          " where r.tree = :tree and r.version = :version", {"tree": tree, "version": version})
    if not found:
        return None
    release = found[0]
    published = await published_tree(execute)
    changes = await execute(
        "select case when w.since_key = :key then (case when w.position = 0 then 'arrived' else 'returned' end)"
        " else 'removed' end as change, i.kind, i.value, kbgen_display_name(i.kind, i.name) as name from windows w"
        " join items i on i.tree = w.tree and i.kind = w.kind and i.value = w.value"
        " where w.tree = :tree and (w.since_key = :key or w.until_key = :key)"
        f" order by change, {canned.kind_order('i.kind')}, i.value",
        {"tree": tree, "key": release["sort_key"]})
    for row in changes:
        row["url"] = item_url(links, published, tree, row["kind"], row["value"])
    comparison = await compare(execute, links, tree, version) if tree != MAINLINE else {}
    before = await execute("select version from releases where tree = :tree and sort_key < :key"
                           " order by sort_key desc limit 1", {"tree": tree, "key": release["sort_key"]})
    previous = before[0]["version"] if before and tree == published else None
    return {"release": release, "changes": changes, "comparison": comparison, "previous": previous,
            "diff_url": diff_url(previous, version) if previous else None,
            "tree_url": links.row("trees", (tree,)),
            "arrived_url": links.query("arrived_in", {"release": version}) if tree == published else None}


async def arrivals(execute: Execute) -> list[tuple[str, dict[str, int]]]:
    """``(release, {kind: count})`` of what arrived in each release of the published tree, oldest first."""
    rows = await execute(
        "select w.since as release, w.since_key as key, w.kind, count(*) as n from windows w"
        f" where w.tree = ({PUBLISHED_SQL}) and w.since_key is not null"
        " group by w.since_key, w.kind order by w.since_key")
    releases: dict[str, tuple[str, dict[str, int]]] = {}
    for row in rows:
        releases.setdefault(row["key"], (row["release"], {}))[1][row["kind"]] = row["n"]
    return list(releases.values())


def diff_url(old: str, new: str) -> str:
    """The diff page of two kernels (kb.site.views.diff)."""
    return "/kb/diff?" + urlencode({"from": old, "to": new})


async def release_nav(execute: Execute, links: Links, release: str) -> dict | None:
    """The arrived_in page's neighbours: the releases before and after *release* in the timeline."""
    known = await arrivals(execute)
    names = [name for name, _counts in known]
    if release not in names:
        return None
    index = names.index(release)
    counts = known[index][1]
    return {
        "release": release,
        "previous": names[index - 1] if index else None,
        "next": names[index + 1] if index + 1 < len(names) else None,
        "previous_url": links.query("arrived_in", {"release": names[index - 1]}) if index else None,
        "next_url": links.query("arrived_in", {"release": names[index + 1]}) if index + 1 < len(names) else None,
        "summary": timeline._tooltip(release, counts),
        "diff_url": diff_url(names[index - 1], release) if index else None,
    }


async def build_releases(execute: Execute) -> list[str]:
    """The release of every probed build: kernels a check can be asked about by name."""
    return [r["version"] for r in await execute(
        "select r.version from releases r join trees t on t.name = r.tree where t.scheme = :build order by r.version",
        {"build": BUILD_SCHEME})]


async def kernel_suggestions(execute: Execute) -> list[str]:
    """Kernels to offer in a form: the probed builds, then the newest releases of the published tree."""
    known = await arrivals(execute)
    return await build_releases(execute) + [name for name, _counts in reversed(known[-12:])]


async def landing(execute: Execute, links: Links) -> dict:
    published = await published_tree(execute)
    meta = {r["key"]: r["value"] for r in await execute("select key, value from kb_meta")}
    trees = await execute(
        "select t.name, t.kind, t.scheme, t.description,"
        " coalesce(nullif((select count(*) from releases r where r.tree = t.name), 0),"
        "   (select count(distinct w.since_key) from windows w where w.tree = t.name)) as releases,"
        " (select count(*) from items i where i.tree = t.name) as item_count"
        " from trees t order by t.name <> :published, t.scheme <> 'build', t.name", {"published": published})
    for tree in trees:
        tree["url"] = links.row("trees", (tree["name"],))
        tree["items_url"] = links.table("items", {"tree": tree["name"]})
    known = await arrivals(execute)
    undated = await execute(
        "select count(*) as n from items i where i.tree = :tree and not exists (select 1 from windows w"
        " where w.tree = i.tree and w.kind = i.kind and w.value = i.value and w.since is not null)",
        {"tree": published})
    builds = await build_releases(execute)
    counts = {r["kind"]: r["n"] for r in await execute(
        "select kind, count(*) as n from items where tree = :tree group by kind", {"tree": published})}
    return {
        "published": published, "data_version": meta.get("data_version"), "trees": trees,
        "timeline": timeline.svg(known, lambda release: links.query("arrived_in", {"release": release}),
                                 f"What arrived in each release of {published}"),
        "undated": undated[0]["n"] if undated else 0,
        "releases_shown": len(known),
        "kernels": builds + [name for name, _counts in reversed(known[-12:])],
        "builds": builds,
        "check_url": links.query("check", {}),
        "browse": [{"words": k.plural, "url": links.table(k.table, {}), "count": counts.get(k.name, 0)}
                   for k in KINDS.values()],
        "diff_url": diff_url(known[-2][0], known[-1][0]) if len(known) > 1 else None,
        "example_diff_url": diff_url("5.15", "6.1"),
        "fleet_url": "/kb/fleet",
        "example_url": links.query("check", {"kernel": "5.15.0-91-generic",
                                             "items": "bpf_map_lookup_percpu_elem, bpf_loop, XDP, bpf_dynptr_slice"}),
    }


def mark_missing(available) -> Markup:
    """The ``available`` cell of a check: a word and a mark, not 1 or 0."""
    if available is None:
        return Markup("")
    return Markup('<span class="kbgen-yes">✓ yes</span>' if available else '<span class="kbgen-no">✗ no</span>')
