"""The canned queries Datasette offers on the published database, built from shared pieces of SQL.

Every query answers from the published tree (``kb_meta.published_tree``); where a kernel is asked about,
a probed build whose release is that kernel answers instead.  Kernels are placed in a tree and items
judged by the SQL functions of :mod:`kb.sqlfunctions`, which call the one rule (kb.vocab.rules); names
are matched as kb.queries.find_item matches them.  Each query is also JSON: ``/kb/check.json?...``.
"""

from __future__ import annotations

from kb.vocab.kinds import ENUM_KINDS, HELPER, ITEM_KINDS, KFUNC, MAINLINE

PUBLISHED = "(select value from kb_meta where key = 'published_tree')"

# kind -> its place in the order every output uses (helpers first, features last).
KIND_ORDER = "case {column} " + " ".join(f"when '{k}' then {n}" for n, k in enumerate(ITEM_KINDS)) + " else 99 end"


def kind_order(column: str) -> str:
    return KIND_ORDER.format(column=column)


def _placed(kernel: str = ":kernel") -> str:
    """``placed(tree, key, release, label, error, approximate, beyond)``: where the kernel is judged
    (kb.site.sqlfunctions.place_kernel: the one rule of kb.store.availability.resolve), and ``answering(tree)``."""
    fields = ("tree", "key", "release", "label", "error", "approximate", "beyond", "stand_in_key", "stand_in_label")
    columns = ", ".join(f"json_extract(m, '$.{f}')" for f in fields)
    return f"""placed({", ".join(fields)}) as (
  select {columns} from (select kbgen_place({PUBLISHED}, {kernel}) as m)
),
answering(tree) as (select tree from placed)"""


def _windows(item: str) -> str:
    return (f"(select json_group_array(json_array(w.position, w.since, w.until, w.since_key, w.until_key))"
            f" from windows w where w.tree = {item}.tree and w.kind = {item}.kind and w.value = {item}.value)")


def _verdict(item: str, key: str) -> str:
    """The JSON verdict on *item* (an alias of items) for a kernel placed at *key*."""
    return (f"kbgen_judge({key}, {_windows(item)}, {item}.first_rc, {item}.first_release, {item}.unreleased, "
            f"{item}.first_release_after, {item}.first_release_by)")


JUDGED = f"""judged as (
  select i.*, p.label, {_verdict('i', 'p.key')} as verdict
  from items i join placed p on i.tree = p.tree
  where p.error is null
)"""


def _resolved(tree: str, param: str) -> str:
    """``resolved(...)``: what each asked word of *param* names in *tree*, as kb.store.resolve reads it (one row
    per item; a word naming nothing has a row with no kind), and ``asked(pos, word, matched, suggestions)``."""
    fields = ("pos", "word", "kind", "value", "name", "how", "note", "suggestions", "error")
    columns = ", ".join(f"json_extract(r.value, '$.{f}')" for f in fields)
    return f"""resolved({", ".join(fields)}) as (
  select {columns} from json_each(kbgen_resolve({tree}, {param})) r
),
asked(pos, word, matched, suggestions) as (
  select pos, word, max(note), max(suggestions) from resolved where error is null group by pos, word
),
found(pos, kind, value) as (select pos, kind, value from resolved where kind is not null)"""


def _stand_in() -> str:
    """``stand_in(key, label)``: where the answering tree is not mainline, the kernel placed in mainline by the
    mainline version of the release it resolved to (kb.store.availability.mainline_stand_in); ``uncovered(kind)``:
    the kinds the answering tree does not give completely, which mainline judges."""
    return f"""stand_in(key, label) as (
  select stand_in_key, stand_in_label from placed where stand_in_key is not null and error is null
),
uncovered(kind) as (
  select k.value from json_each('[{", ".join(f'"{k}"' for k in ITEM_KINDS)}]') k
  where instr((select ' ' || coalesce(group_concat(c.covers, ' '), '') || ' ' from collections c
               where c.tree = (select tree from placed)), ' ' || k.value || ' ') = 0
)"""


# With no kernel (and a tree of many releases), each item's first release: what a kernel needs.
NEEDS_ONLY = "(trim(:kernel) = '' and (select scheme from trees where name = (select tree from answering)) <> 'build')"

CHECK = f"""with recursive
{_placed()},
{_stand_in()},
{_resolved('(select tree from answering)', ':items')},
judged(pos, kind, value, name, first_release, removed_in, verdict) as (
  select f.pos, i.kind, i.value, i.name, i.first_release, i.removed_in, {_verdict('i', 'p.key')}
  from found f join placed p join items i on i.tree = p.tree and i.kind = f.kind and i.value = f.value
  union all
  select f.pos, i.kind, i.value, i.name, i.first_release, i.removed_in,
    json_set({_verdict('i', 's.key')}, '$.reason', json_extract({_verdict('i', 's.key')}, '$.reason')
             || ' (judged by {MAINLINE}: tree ' || (select tree from placed) || ' does not list it)')
  from found f join stand_in s join items i on i.tree = '{MAINLINE}' and i.kind = f.kind
    and i.value = f.value
  where i.kind in (select kind from uncovered) and not exists (
    select 1 from items t where t.tree = (select tree from placed) and t.kind = i.kind and t.value = i.value)
),
unknown(pos, asked, why, error) as (
  select a.pos, a.word, 'unknown to the knowledge base' || coalesce(' (did you mean ' || a.suggestions || '?)', ''),
    'unknown item: ' || a.word || coalesce(' (did you mean ' || a.suggestions || '?)', '')
  from asked a where not exists (select 1 from found f where f.pos = a.pos)
),
answers as (
  select a.pos, a.word as asked, j.kind, j.value as id, kbgen_display_name(j.kind, j.name) as name,
    case when p.beyond is null then coalesce(json_extract(j.verdict, '$.available'), 0) else 0 end as available,
    j.first_release, coalesce(json_extract(j.verdict, '$.removed_in'), j.removed_in) as removed_in,
    case when p.beyond is not null and j.kind is not null then 'unknown: ' || p.beyond
      else coalesce(json_extract(j.verdict, '$.reason'), case when t.scheme = 'build' then 'not in the build ' || t.name
                                                              else u.why end) end as why,
    a.matched, p.tree, p.label as judged_as, p.approximate,
    case when j.kind is null and t.scheme <> 'build' then u.error end as error
  from asked a left join judged j on j.pos = a.pos left join unknown u on u.pos = a.pos
  join placed p join trees t on t.name = p.tree
  where p.error is null
),
needs as (
  select a.pos, a.word as asked, i.kind, i.value as id, kbgen_display_name(i.kind, i.name) as name,
    null as available, i.first_release, i.removed_in,
    coalesce(u.why, case when i.first_release is not null then 'needs ' || i.first_release || ' or newer'
                         when i.first_release_by is not null then 'needs ' || i.first_release_by
                           || ' or newer to be sure: arrived '
                           || kbgen_arrival(i.first_release, i.first_release_after, i.first_release_by)
                           || '; the first release is not established'
                         else 'first release not known' end) as why,
    a.matched, i.tree, null as judged_as, null as approximate, u.error
  from asked a left join found f on f.pos = a.pos left join unknown u on u.pos = a.pos
  left join items i on i.kind = f.kind and i.value = f.value and i.tree = coalesce(
    (select t.tree from items t where t.tree = (select tree from answering) and t.kind = f.kind
     and t.value = f.value), '{MAINLINE}')
  where {NEEDS_ONLY}
)
select asked, kind, id, name, available, first_release, removed_in, why, matched, tree, judged_as, approximate,
  error from (
  select * from answers where not {NEEDS_ONLY}
  union all
  select * from needs
  union all
  select -1, trim(:kernel), null, null, null, null, null, null, null, null, tree, null, null, error from placed
  where error is not null and not {NEEDS_ONLY}
  union all
  select -1, null, null, null, null, null, null, null, null, null, null, null, null, error from resolved
  where error is not null
  union all
  select -1, null, null, null, null, null, null, null, null, null, null, null, null, 'say which items to check'
  where not exists (select 1 from resolved) and ((select error from placed) is null or {NEEDS_ONLY})
)
order by available, pos, {kind_order('kind')}, id"""


AVAILABLE_ON = f"""with
{_placed()},
{JUDGED}
select kind, id, name, first_release, removed_in, [commit], tree, judged_as, error from (
  select kind, value as id, kbgen_display_name(kind, name) as name, first_release, removed_in,
    introduced_by as [commit], tree, label as judged_as, null as error
  from judged
  where json_extract(verdict, '$.available') = 1 and (:kind = '' or kind = :kind)
  union all
  select null, null, null, null, null, null, tree, null, error from placed where error is not null
  union all
  select null, null, null, null, null, null, null, null, 'unknown kind: ' || :kind
  where :kind <> '' and :kind not in ({", ".join(f"'{k}'" for k in ITEM_KINDS)})
)
order by {kind_order('kind')}, id"""


# What an item is, in a line: its commit's subject where the source gives one, else its title or signature.
ABOUT = ("coalesce(i.subject, i.title, i.signature, (select d.signature from helper_docs d where d.tree = i.tree"
         f" and d.value = i.value and i.kind = '{HELPER}' order by d.variant limit 1))")

ARRIVED_IN = f"""with p(tree, key) as (
  select t.name, coalesce(
    (select r.sort_key from releases r where r.tree = t.name and r.version = trim(:release)),
    kbgen_release_key(t.scheme, trim(:release)))
  from trees t where t.name = {PUBLISHED}
)
select kind, id, name, change, first_release, [commit], about, error from (
  select i.kind, i.value as id, kbgen_display_name(i.kind, i.name) as name,
    case when w.position = 0 then 'arrived' else 'returned' end as change,
    i.first_release, i.introduced_by as [commit], {ABOUT} as about, null as error
  from p join windows w on w.tree = p.tree and w.since_key = p.key
  join items i on i.tree = w.tree and i.kind = w.kind and i.value = w.value
  union all
  select i.kind, i.value, kbgen_display_name(i.kind, i.name), 'removed', i.first_release, i.introduced_by, {ABOUT},
    null
  from p join windows w on w.tree = p.tree and w.until_key = p.key
  join items i on i.tree = w.tree and i.kind = w.kind and i.value = w.value
  union all
  select null, null, null, null, null, null, null, 'not a release: ' || :release from p where p.key is null
)
order by change = 'removed', {kind_order('kind')}, id"""


MIN_KERNEL_FOR_HELPERS = f"""with recursive
{_resolved(PUBLISHED, ':helpers')},
rows as (
  select a.pos, a.word, i.value as id, kbgen_display_name(i.kind, i.name) as name, i.first_release,
    i.first_release_key, i.removed_in, i.introduced_by
  from asked a left join found f on f.pos = a.pos and f.kind = '{HELPER}'
  left join items i on i.tree = {PUBLISHED} and i.kind = f.kind and i.value = f.value
),
ranked as (
  select *, case when first_release_key is not null
    and row_number() over (order by first_release_key is null, first_release_key desc, pos) = 1
    then 1 else 0 end as forces_minimum
  from rows
)
select asked, id, name, first_release, removed_in, [commit], forces_minimum, error from (
  select pos, word as asked, id, name, first_release, first_release_key, removed_in, introduced_by as [commit],
    forces_minimum,
    case when id is null then 'unknown helper: ' || word
         when first_release is null then 'first release not known' end as error
  from ranked
  union all
  select 0, null, null, null, null, null, null, null, 0, 'say which helpers (names or ids)'
  where not exists (select 1 from asked)
)
order by error is not null, forces_minimum desc, first_release_key desc, pos"""


# The kinds a tree is compared with mainline in (kb.probe's): items, not features; only the kinds some source of the
# tree gives completely (collections.covers), or, where no source says, the kinds it has.
COMPARED_KINDS = (HELPER, *ENUM_KINDS, KFUNC)

COMPARE = f"""with
asked_tree(name) as (select coalesce(nullif(trim(:tree), ''), {PUBLISHED})),
base_release(tree, version, key, base) as (
  select r.tree, r.version, r.sort_key, coalesce(r.base, r.version) from releases r join asked_tree a on r.tree = a.name
  where a.name <> '{MAINLINE}' and (r.version = trim(:release)
    or (trim(:release) = '' and r.sort_key = (select max(sort_key) from releases where tree = r.tree)))
),
compared(kind) as (values {", ".join(f"('{k}')" for k in COMPARED_KINDS)}),
covered(kind) as (
  select k.kind from compared k, base_release b where exists (select 1 from collections c
    where c.tree = b.tree and instr(' ' || coalesce(c.covers, '') || ' ', ' ' || k.kind || ' ') > 0)
),
kinds(kind) as (
  select kind from covered
  union
  select distinct i.kind from items i join base_release b on i.tree = b.tree
  where i.kind in (select kind from compared) and not exists (select 1 from covered)
),
tree_items as (
  select i.*, json_extract({_verdict('i', 'b.key')}, '$.available') as here
  from items i join base_release b on i.tree = b.tree
  where i.kind in (select kind from kinds)
),
mainline as (
  select i.*, json_extract({_verdict('i', 'version_key(b.base)')}, '$.status') as status
  from items i, base_release b
  where i.tree = '{MAINLINE}' and i.kind in (select kind from kinds)
)
select change, kind, id, name, first_release, mainline_first_release, mainline_removed_in, tree, error from (
  select case when m.value is null then 'not in mainline' when m.status = 'removed' then 'kept' else 'backport' end
      as change,
    t.kind, t.value as id, kbgen_display_name(t.kind, t.name) as name, t.first_release,
    m.first_release as mainline_first_release,
    m.removed_in as mainline_removed_in, t.tree, null as error
  from tree_items t left join mainline m on m.kind = t.kind and m.value = t.value
  where t.here = 1 and (m.value is null or m.status in ('not_yet', 'removed'))
  union all
  select 'lacks', m.kind, m.value, kbgen_display_name(m.kind, m.name), null, m.first_release, m.removed_in, m.tree,
    null
  from mainline m left join tree_items t on t.kind = m.kind and t.value = m.value
  where m.status = 'available' and coalesce(t.here, 0) = 0
  union all
  select null, null, null, null, null, null, null, null,
    case when a.name = '{MAINLINE}' then 'mainline is what the others are compared with'
         when not exists (select 1 from trees where name = a.name) then 'no tree named ' || a.name
         else 'no release ' || coalesce(nullif(trim(:release), ''), '(newest)') || ' in tree ' || a.name end
  from asked_tree a where not exists (select 1 from base_release)
)
order by change, {kind_order('kind')}, id"""


RENAMED_HELPERS = """select i.tree, i.value as id, i.name,
  (select group_concat(name, ' → ') from (
     select n.name from item_names n where n.tree = i.tree and n.kind = i.kind and n.value = i.value
     order by n.position)) as history,
  i.first_release, i.introduced_by as [commit]
from items i
where i.kind = 'helper'
  and (select count(*) from item_names n where n.tree = i.tree and n.kind = i.kind and n.value = i.value) > 1
order by i.tree, i.value"""


DISAGREEING_SOURCES = """select d.tree, d.kind, d.value as id, i.name, d.field, d.used, d.used_source, d.other,
  d.other_source, d.note
from disagreements d left join items i on i.tree = d.tree and i.kind = d.kind and i.value = d.value
order by d.tree, d.kind, d.value, d.field"""


# name -> (title, description, SQL); every one hides its SQL ("show" reveals it).
QUERIES = {
    "check": (
        "Does this kernel have these items?",
        ("One row per item asked: available (1 or 0), its first release, when it was removed, and why; missing items "
         "first. Items: helpers by id or name (with or without bpf_), kfuncs, enumerators (short or full: XDP, "
         "BPF_MAP_TYPE_RINGBUF), libbpf sections (fentry, uprobe.s, tc), macros (bpf_obj_new, bpf_printk) and "
         "features (isa.jmp32_v3, bounded loops). Kernel: a release string such as 5.15.0-91-generic, a build's "
         "release, or nothing: then each item's first release, and the kernel they all need."),
        CHECK,
    ),
    "available_on": (
        "What is available on a kernel",
        ("Every item a kernel has (5.15, 5.15.0-91-generic, 6.1.0-13-amd64, a probed build's release), judged by "
         "each item's releases: items removed before the kernel are not listed. Choose a kind, or all."),
        AVAILABLE_ON,
    ),
    "arrived_in": (
        "What arrived in a release",
        ("Items that arrived in a release (5.19), came back in it, or were removed in it; about: the commit's subject "
         "where the source gives one, else the item's title or signature."),
        ARRIVED_IN,
    ),
    "min_kernel_for_helpers": (
        "Minimum kernel for a list of helpers",
        ("Helper names (with or without bpf_ or BPF_FUNC_) or ids, separated by commas. The first row is the "
         "helper that forces the minimum kernel; unknown names come last, with an error."),
        MIN_KERNEL_FOR_HELPERS,
    ),
    "compare_with_mainline": (
        "A tree or build compared with mainline",
        ("Backports (items a tree's release has that mainline dates after its base release), items it keeps that "
         "mainline removed by then, items it lacks that mainline has by then (of the kinds the tree gives "
         "completely), and items mainline does not know. Tree: a probed build or a distribution tree; release: "
         "empty for its newest."),
        COMPARE,
    ),
    "renamed_helpers": (
        "Helpers renamed over time",
        "Helpers whose id carried more than one name; the id keeps its first release and commit.",
        RENAMED_HELPERS,
    ),
    "disagreeing_sources": (
        "Items whose sources disagree",
        "Facts two sources give differently, with the value the tables use and the other one.",
        DISAGREEING_SOURCES,
    ),
}


def queries() -> dict[str, dict]:
    """The canned queries in Datasette's shape."""
    return {name: {"title": title, "description": description, "sql": sql, "hide_sql": True}
            for name, (title, description, sql) in QUERIES.items()}
