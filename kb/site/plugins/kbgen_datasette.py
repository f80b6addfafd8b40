"""Datasette plugin for the kbgen database: the canned queries and the SQL functions they need, readable cells,
item cards, tree and release pages, the landing page's timeline, version-ordered facets, compact tables.

Loaded by ``kbgen serve`` through Datasette's plugins directory; it touches only the database named kb.
What the pages say is computed in kb.pages (data in, dicts out); this module only wires it to Datasette.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import weakref
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.plugins import pm
from datasette.renderer import json_renderer
from datasette.utils import MultiParams, tilde_decode, tilde_encode
from datasette.utils import escape_fts as datasette_escape_fts
from datasette.utils.asgi import Base400, Response
from datasette.views.base import DatasetteError
from markupsafe import Markup, escape

from kb.site import canned, guard, pages, rest, sqlfunctions, timeline, views
from kb.site.publish import ALL_VERSION_COLUMNS
from kb.vocab.kinds import HELPER, ITEM_KINDS, KIND_OF_TABLE, KINDS, MAINLINE, PROG_TYPE

DATABASE = "kb"
_DEFAULT_HANDLER = "datasette.handle_exception"
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_COMMIT_COLUMNS = {"commit", "introduced_by", "alt_commit", "first_seen_commit", "used", "other"}
_FTS_TABLE = re.compile(r"_fts(_data|_idx|_docsize|_config)?$")
_PUBLISHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # datasette -> the published tree

# The columns a table's page shows unless the reader picks others (?_col=); every field is on the row's page.
_ENUM_COMPACT = ("id", "name", "first_release", "removed_in", "commit")
COMPACT = {
    "helpers": ("id", "name", "first_release", "removed_in", "gpl_only", "commit", "signature"),
    "kfuncs": ("id", "first_release", "removed_in", "commit", "signature"),
    "features": ("id", "title", "first_release", "libbpf", "commit"),
    **{k.table: _ENUM_COMPACT for k in KINDS.values() if k.numbered and k.name != HELPER},
    "items": ("tree", "kind", "value", "name", "first_release", "removed_in", "gpl_only", "introduced_by"),
    "helper_docs": ("tree", "value", "variant", "name", "signature"),
    "disagreements": ("tree", "kind", "value", "field", "used", "used_source", "other", "other_source"),
}
# Canned query parameters offered as a choice list: parameter -> [(value, label)].
CHOICES = {"kind": [("", "all kinds"), *((k.name, k.word) for k in KINDS.values())]}
PLACEHOLDERS = {"kernel": "5.15.0-91-generic", "items": "bpf_map_lookup_percpu_elem, bpf_loop, XDP, bpf_dynptr_slice",
                "helpers": "bpf_map_lookup_elem, 195, skb_set_tstamp", "release": "5.19", "tree": "a tree or build",
                "kind": ""}
CSS_PATH = "/-/kbgen.css"
CSS = """
.kbgen-doc em, .kbgen-proto em, .kbgen-card em { font-style: italic; font-size: inherit; color: inherit; }
.kbgen-doc { max-width: 48em; }
.kbgen-doc p { margin: 0 0 0.6em 0; }
.kbgen-doc pre { background: #f4f4f4; padding: 0.4em 0.6em; overflow-x: auto; }
.kbgen-doc dt { font-weight: normal; }
.kbgen-doc dd { margin: 0 0 0.3em 2em; }
.kbgen-doc blockquote { margin: 0 0 0.6em 2em; }
dl.kbgen-item { display: grid; grid-template-columns: max-content 1fr; gap: 0.45em 1.5em; max-width: 64em; }
dl.kbgen-item dt { font-weight: bold; color: #555; }
dl.kbgen-item dd { margin: 0; }
.kbgen-lead { font-size: 1.15em; max-width: 48em; }
.kbgen-qualifier { color: #555; font-size: 0.9em; }
.kbgen-yes { color: #1a7f37; font-weight: bold; }
.kbgen-no { color: #b3261e; font-weight: bold; }
tr.kbgen-missing td { background: #fdecea; }
.kbgen-verdict { padding: 0.6em 0.9em; border-left: 6px solid #1a7f37; background: #eef7f0; max-width: 48em; }
.kbgen-verdict.kbgen-lacks { border-left-color: #b3261e; background: #fdecea; }
.kbgen-verdict.kbgen-error { border-left-color: #8a6d00; background: #fff6d6; }
form.kbgen-form { background: #f6f8fa; padding: 0.6em 1em 0.8em 1em; max-width: 52em; }
form.kbgen-form label { display: block; width: auto; margin: 0.4em 0 0.15em 0; font-weight: bold; }
form.kbgen-form input[type=text] { display: block; width: 100%; max-width: 46em; box-sizing: border-box;
  font-size: 1em; padding: 0.3em; }
form.kbgen-form select { font-size: 1em; }
form.kbgen-form input[type=submit] { margin-top: 0.6em; }
.kbgen-timeline-wrap { overflow-x: auto; max-width: 100%; }
svg.kbgen-timeline a:hover rect, svg.kbgen-timeline a:focus rect { opacity: 0.75; }
.kbgen-compact-note { color: #555; font-size: 0.9em; }
td.col-signature, td.col-description { min-width: 20em; }
.kbgen-nav a { margin-right: 1em; }
ul.kbgen-compare { columns: 3 20em; padding-left: 1.2em; }
dl.column-descriptions { display: none; }
.facet-results .facet-info ul.tight-bullets { max-height: 15em; overflow-y: auto; }
dl.kbgen-column-descriptions { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1.2em; }
dl.kbgen-column-descriptions dd { margin: 0; color: #555; }
ul.kbgen-matched { color: #333; font-size: 0.95em; }
table.kbgen-fleet { border-collapse: collapse; }
table.kbgen-fleet th, table.kbgen-fleet td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: center; }
table.kbgen-fleet th[scope=row] { text-align: left; font-weight: normal; white-space: nowrap; position: sticky;
  left: 0; background: #fff; }
table.kbgen-fleet th.kbgen-runs { background: #d8f0de; }
td.kbgen-cell-yes { background: #1a7f37; color: white; }
td.kbgen-cell-no { background: #f3c4bf; color: #7a1a12; }
.kbgen-fleet-wrap, .table-wrapper { overflow-x: auto; max-width: 100%; }
.kbgen-card code, .kbgen-card dd, .kbgen-verdict, .kbgen-lead { overflow-wrap: anywhere; }
@media only screen and (max-width: 576px) {
  dl.kbgen-item { grid-template-columns: 1fr; gap: 0.1em; }
  dl.kbgen-item dd { margin-bottom: 0.5em; }
  ul.kbgen-compare { columns: 1; }
  form.kbgen-form input[type=text] { max-width: 100%; }
  td.col-signature, td.col-description { min-width: 0; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; }
  /* Our own small tables stay tables (Datasette stacks its tables into cards, without our labels). */
  table.kbgen-plain, .kbgen-plain thead, .kbgen-plain tbody, .kbgen-plain tr { display: revert; }
  .kbgen-plain th, .kbgen-plain td { display: table-cell; padding-left: 0.3em; overflow-wrap: anywhere; }
  .kbgen-plain thead tr { position: static; }
  .kbgen-plain tr { border: none; margin: 0; }
  .kbgen-plain td:before { content: none; }
}
"""


def _pks(request) -> tuple:
    return tuple(tilde_decode(part) for part in request.url_vars.get("pks", "").split(","))


_LINKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # datasette -> its pages.Links


def _links(datasette) -> pages.Links:
    if datasette in _LINKS:
        return _LINKS[datasette]

    def row(table, pks):
        return datasette.urls.row(DATABASE, table, ",".join(tilde_encode(str(v)) for v in pks))

    def table(name, filters):
        return datasette.urls.table(DATABASE, name) + ("?" + urlencode(filters) if filters else "")

    _LINKS[datasette] = pages.Links(row=row, table=table, query=table)
    return _LINKS[datasette]


def _execute_fixed(datasette):
    """Our own pages' fixed SQL (a tree compared with mainline judges every item), run without the SQL time limit
    that bounds readers' questions: its cost is bounded by the data, and results stay bounded (kb.site.guard)."""
    async def execute(sql, params=None):
        def run(conn):
            cursor = conn.execute(sql, params or {})
            columns = [d[0] for d in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]

        return await datasette.get_database(DATABASE).execute_fn(run)

    return execute


def _execute(datasette):
    async def execute(sql, params=None):
        results = await datasette.get_database(DATABASE).execute(sql, params or {})
        return [dict(zip(results.columns, row)) for row in results.rows]

    return execute


def escape_fts(query):
    """A search as FTS5 reads it: each word a prefix (``perc`` finds map_lookup_percpu_elem; a name's parts are
    words to FTS5, so ``bpf_map_lookup`` is the phrase "bpf map lookup"), a "quoted phrase" exact; never the empty
    query FTS5 refuses (``"`` alone, say): that one matches nothing."""
    terms = []
    for bit in datasette_escape_fts(query or "").split('" "'):
        word = bit.strip('"').replace('"', "")
        if re.search(r"\w", word):
            terms.append(f'"{word}"*')
    return " ".join(terms) or '""'


@hookimpl(trylast=True)  # after Datasette's own, so that its escape_fts gives way to ours
def prepare_connection(conn):
    guard.limit_connection(conn)
    sqlfunctions.register(conn)
    conn.create_function("escape_fts", 1, escape_fts)


_COLUMNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # datasette -> {table: its columns}


async def _table_columns(datasette) -> dict[str, list[str]]:
    if datasette not in _COLUMNS:
        found = {}
        if DATABASE in datasette.databases:
            database = datasette.get_database(DATABASE)
            for table in await database.table_names():
                found[table] = await database.table_columns(table)
        _COLUMNS[datasette] = found
    return _COLUMNS[datasette]


def _search_rewritten(scope: dict) -> dict:
    """An empty search box searches for nothing in particular: the whole table, not an FTS5 syntax error."""
    query = scope.get("query_string", b"")
    if b"_search" in query:
        pairs = parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if v.strip() or not k.startswith("_search") or k == "_searchmode"]
        if len(kept) != len(pairs):
            scope = dict(scope, query_string=urlencode(kept).encode("ascii"))
    return scope


@hookimpl
def asgi_wrapper(datasette):
    """Every request checked (kb.site.guard) before Datasette sees it; every response with security headers and a
    bounded body."""

    def wrap(app):
        async def guarded(scope, receive, send):
            if scope.get("type") != "http":
                await app(scope, receive, send)
                return
            prefix = f"/{DATABASE}/"
            path = scope.get("path", "")
            try:
                tables = await _table_columns(datasette) if path.startswith(prefix) else {}
                guard.check_request(scope, lambda table: tables.get(table) if path.startswith(prefix) else None)
            except guard.Refused as refused:
                await guard.refuse(send, refused, path.endswith(".json"))
                return
            await app(_search_rewritten(scope), receive, guard.bounded_send(send))

        return guarded

    return wrap


@hookimpl
def handle_exception(datasette, request, exception):
    """Every error answered in one short line, never with exception text: a bad request 400, a question past the
    time limit 503, a page not found as Datasette says it; a fault 500, logged on one line.  Datasette's own
    handler (which prints a traceback for each) is unregistered at startup: this one answers everything."""
    if isinstance(exception, Base400):
        found = (exception.status, str(exception.args[0] if exception.args else "not found")[:200])
    elif isinstance(exception, QueryInterrupted):
        found = (503, "the question took longer than the time limit: ask again, or ask for less")
    else:
        found = guard.short_error(exception)
    if found is None and isinstance(exception, DatasetteError) and exception.status < 500:
        found = (exception.status, str(exception.message).splitlines()[0][:200])
    if found is None:
        sys.stderr.write(f"kbgen site: {request.path if request else '?'}: {type(exception).__name__}: "
                         f"{str(exception).splitlines()[0][:300] if str(exception) else ''}\n")
        found = (500, "internal error: the site could not answer this request")
    status, message = found
    if request is not None and request.path.endswith(".json"):
        return Response.json({"ok": False, "error": message, "status": status}, status=status)
    if not isinstance(exception, Base400):
        return Response.text(f"{status} {message}\n", status=status)

    async def page():  # a page not found reads as the site's other pages
        try:
            body = await datasette.render_template(
                [f"{status}.html", "error.html"], {"ok": False, "error": message, "status": status, "title": None},
                request=request)
        except Exception:  # noqa: BLE001  (an error page must not fail: plain text then)
            return Response.text(f"{status} {message}\n", status=status)
        return Response.html(body, status=status)

    return page


def _quiet_default_errors() -> None:
    """Datasette's default exception handler prints a traceback for every bad request; this plugin's answers all."""
    if pm.get_plugin(_DEFAULT_HANDLER) is not None:
        pm.unregister(name=_DEFAULT_HANDLER)


@hookimpl
def startup(datasette):
    async def remember_published_tree():
        _quiet_default_errors()
        if DATABASE in datasette.databases:
            guard.bound_results(datasette.get_database(DATABASE))
            _PUBLISHED[datasette] = await pages.published_tree(_execute(datasette))
            await datasette.get_database(DATABASE).execute_fn(sqlfunctions.warm)

    return remember_published_tree


@hookimpl
def canned_queries(datasette, database):
    return canned.queries() if database == DATABASE else None


@hookimpl
def permission_allowed(action, resource):
    """Full-text search tables are machinery: searchable through their table, not pages of their own."""
    if action == "view-table" and isinstance(resource, tuple) and resource[0] == DATABASE \
            and _FTS_TABLE.search(resource[1]):
        return False
    return None


def _item_links(datasette, published: str, rows: list[dict], tree: str) -> None:
    links = _links(datasette)
    for row in rows:
        row["url"] = pages.item_url(links, published, tree, row["kind"], row["id"])


async def _diff(datasette, request):
    old, new = request.args.get("from", "").strip(), request.args.get("to", "").strip()
    found = await datasette.get_database(DATABASE).execute_fn(lambda conn: views.diff(conn, old, new))
    if request.url_vars.get("format") == "json":
        return Response.json({k: found[k] for k in ("tree", "old", "new", "arrived", "removed", "error")},
                             status=400 if found["error"] else 200)
    links = _links(datasette)
    for row in found["arrived"] + found["removed"]:
        row["url"] = pages.item_url(links, found["tree"], found["tree"], row["kind"], row["id"])
        row["release_url"] = links.query("arrived_in", {"release": row["release"]}) if row["release"] else None
    json_url = datasette.urls.path("/kb/diff.json?" + urlencode({"from": old, "to": new}))
    return Response.html(await datasette.render_template(
        "kbgen_diff.html", {"d": found, "json_url": json_url}, request=request))


async def _fleet(datasette, request):
    items, kernels = request.args.get("items", ""), request.args.get("kernels", "")
    found = await datasette.get_database(DATABASE).execute_fn(lambda conn: views.fleet(conn, items, kernels))
    form = request.url_vars.get("format")
    if form == "json":
        return Response.json({"tree": found["tree"], "kernels": found["columns"], "cells": views.fleet_records(found),
                              "unknown": found["unknown"], "errors": found["errors"]})
    if form == "csv":
        out = io.StringIO()
        records = views.fleet_records(found)
        writer = csv.DictWriter(out, fieldnames=list(records[0]) if records else ["asked"])
        writer.writeheader()
        writer.writerows(records)
        return Response(out.getvalue(), content_type="text/csv; charset=utf-8")
    _item_links(datasette, found["tree"], found["rows"], found["tree"])
    query = urlencode({"items": items, "kernels": kernels})
    return Response.html(await datasette.render_template("kbgen_fleet.html", {
        "f": found, "json_url": datasette.urls.path(f"/kb/fleet.json?{query}"),
        "csv_url": datasette.urls.path(f"/kb/fleet.csv?{query}")}, request=request))


@hookimpl
def register_routes():
    async def css():
        return Response(CSS, content_type="text/css; charset=utf-8", headers={"cache-control": "max-age=3600"})

    return [(r"^/-/kbgen\.css$", css), (r"^/kb/diff(\.(?P<format>json))?$", _diff),
            (r"^/kb/fleet(\.(?P<format>json|csv))?$", _fleet)]


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.path(CSS_PATH)]


def _version_order(results, column):
    """Facet values of a version column in version order (oldest first), others as Datasette orders them."""
    if column not in ALL_VERSION_COLUMNS:
        return results
    keyed = [(sqlfunctions.exact_key(r["value"]) if r["value"] is not None else None, r) for r in results]
    return [r for _key, r in sorted(keyed, key=lambda kr: (kr[0] is None, kr[0] or str(kr[1]["value"])))]


def _rows(rows) -> list[dict]:
    return [dict(zip(row.keys(), row)) if hasattr(row, "keys") else dict(row) for row in rows]


def _check_chart(rows, kernel):
    return timeline.check_chart(_rows(rows), (kernel or "").strip() or None, sqlfunctions.version_key)


def _needed(rows) -> dict | None:
    """The item whose first release is newest among a check's rows: what a kernel needs."""
    dated = [r for r in _rows(rows) if r.get("first_release") and sqlfunctions.version_key(r["first_release"])]
    if not dated:
        return None
    newest = max(dated, key=lambda r: sqlfunctions.version_key(r["first_release"]))
    return {"release": newest["first_release"], "name": newest["name"]}


def _search_order(rows, search):
    """A page of search results with exact names first, then names starting with the search, then the rest."""
    wanted = (search or "").strip().lower().removeprefix("bpf_")
    if not wanted:
        return rows

    def rank(row):
        cells = {cell["column"]: cell.get("raw") for cell in row} if not hasattr(row, "keys") else dict(row)
        name = str(cells.get("name") or cells.get("id") or "").lower().removeprefix("bpf_")
        short = name.rsplit("_type_", 1)[-1] if "_type_" in name else name
        return 0 if wanted in (name, short) else 1 if name.startswith(wanted) or short.startswith(wanted) else 2

    return sorted(rows, key=rank)


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["kbgen_search_order"] = _search_order
    env.filters["kbgen_version_order"] = _version_order
    env.filters["kbgen_check_chart"] = _check_chart
    env.filters["kbgen_needed"] = _needed


@hookimpl
def register_output_renderer():
    """JSON as Datasette gives it, with the ``names`` columns (JSON arrays in the database) as arrays."""

    def render(request, database, data, view_name, columns):
        args = request.args
        if database == DATABASE and "names" in (columns or []) and "_json" not in args:
            args = MultiParams({**{key: args.getlist(key) for key in args}, "_json": ["names"]})
        return json_renderer(args, data, view_name)

    return {"extension": "json", "render": render}


def _is_published(datasette, row) -> bool:
    """Rows of the store say their tree; the per-kind tables and most canned queries are the published tree's."""
    published = _PUBLISHED.get(datasette, MAINLINE)
    try:
        return row["tree"] == published
    except (KeyError, IndexError, TypeError):
        return True


def _row_tree(datasette, row) -> str:
    try:
        return row["tree"] or MAINLINE
    except (KeyError, IndexError, TypeError):
        return _PUBLISHED.get(datasette, MAINLINE)


def _column(row, name):
    try:
        return row[name]
    except (KeyError, IndexError, TypeError):
        return None


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if database != DATABASE:
        return None
    if column == "available" and table is None and value in (0, 1):
        return pages.mark_missing(value)
    if column == "gpl_only" and value in (0, 1):
        return Markup("GPL-only" if value else "any license")
    if not isinstance(value, str):
        return None
    if column in _COMMIT_COLUMNS and _SHA_RE.match(value):
        url = pages.commit_url(_row_tree(datasette, row), value)
        if url:
            return Markup(f'<a href="{escape(url)}" title="{value}"><code>{value[:12]}</code></a>')
        return Markup(f'<code title="{value}">{value[:12]}</code>')
    if column == "signature":
        return rest.signature(value) if (table == "helpers" or _column(row, "kind") == "helper") \
            else Markup(f"<code>{escape(value)}</code>")
    if column in ("description", "returns"):
        return Markup(f'<div class="kbgen-doc">{rest.to_html(value)}</div>')
    if column == "names" and value.startswith("["):
        try:
            return " → ".join(json.loads(value))
        except ValueError:
            return None
    if column in ("first_release", "removed_in") and (table in KIND_OF_TABLE or table is None) \
            and _is_published(datasette, row) and _column(row, "error") is None:
        url = _links(datasette).query("arrived_in", {"release": value})
        return Markup(f'<a href="{escape(url)}">{escape(value)}</a>')
    if column == "name" and table is None and _column(row, "kind") in ITEM_KINDS and _column(row, "id") is not None:
        published = _PUBLISHED.get(datasette, MAINLINE)
        url = pages.item_url(_links(datasette), published, _row_tree(datasette, row), row["kind"], row["id"])
        return Markup(f'<a href="{escape(url)}">{escape(value)}</a>')
    return None


async def _template_vars(template, database, table, view_name, request, datasette) -> dict:
    if request is None:
        return {}
    execute, links = _execute(datasette), _links(datasette)
    if view_name == "index" and DATABASE in datasette.databases:
        return {"kbgen": await pages.landing(execute, links)}
    if database != DATABASE:
        return {}
    if view_name == "row" and (table in KIND_OF_TABLE or table == "items"):
        card = await pages.item_card(execute, links, table, _pks(request))
        if card and card["kind"] == PROG_TYPE:
            kernel = (request.args.get("kernel") or "").strip()
            card["callable"] = found = await datasette.get_database(DATABASE).execute_fn(
                lambda conn: views.callable_items(conn, card["tree"], card["value"], kernel))
            _item_links(datasette, _PUBLISHED.get(datasette, MAINLINE), found["rows"], card["tree"])
        return {"kbgen_item": card}
    if view_name == "row" and table == "trees":
        return {"kbgen_tree": await pages.tree_card(_execute_fixed(datasette), links, _pks(request)[0])}
    if view_name == "row" and table == "releases" and len(_pks(request)) == 2:
        return {"kbgen_release": await pages.release_card(_execute_fixed(datasette), links, *_pks(request))}
    if view_name == "table" and table in COMPACT and not ({"_col", "_nocol"} & set(request.args)):
        everything = await datasette.get_database(DATABASE).table_columns(table)
        args = [(k, v) for k in request.args for v in request.args.getlist(k) if k != "_next"]
        return {"kbgen_compact": COMPACT[table],
                "kbgen_all_columns_url": request.path + "?" + urlencode(args + [("_col", c) for c in everything])}
    if template.startswith("query-"):
        query = request.url_vars.get("table")  # the canned query's name, on its own page
        found = {"kbgen_choices": CHOICES, "kbgen_placeholders": PLACEHOLDERS}
        if query == "arrived_in" and request.args.get("release"):
            found["kbgen_release_nav"] = await pages.release_nav(execute, links, request.args.get("release").strip())
        if query in ("check", "available_on"):
            found["kbgen_kernels"] = await pages.kernel_suggestions(execute)
        return found
    return {}


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    async def inner():
        return await _template_vars(template, database, table, view_name, request, datasette)

    return inner
