"""The published site for tests and the crawl bench: Datasette as `kbgen serve` configures it, a probed build
and a distribution tree written as facts, and a crawler of internal links."""

from __future__ import annotations

import asyncio
import html
import re
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from kb.site import serve
from kb.store import database, kbase, queries
from kb.vocab import rules
from kb.vocab.facts import PROBED, Facts, HelperDoc, Item, Relation, Release, Source, Window
from kb.vocab.kinds import ENUM_KINDS, HELPER, KFUNC, MAINLINE, TREE_BUILD, TREE_GIT, is_numbered
from kb.vocab.releases import BUILD_SCHEME, parse_tag

BUILD_TREE = "mybuild"
BUILD_RELEASE = "6.1.0-13-cloud-amd64"
BUILD_BACKPORTS = {("helper", 211), ("kfunc", "bpf_cast_to_kern_ctx")}  # mainline: 6.2
BUILD_LACKS = ("helper", 195)  # mainline: 5.19
VENDOR_KFUNC = "vendor_only_kfunc"
DISTRO_TREE = "ubuntu-test"
DISTRO_TAGS = ["Ubuntu-5.15.0-25.25", "Ubuntu-5.15.0-91.101", "Ubuntu-5.15.0-100.110"]


def datasette_for(path):
    """Datasette serving *path* as `kbgen serve` does: metadata, plugin, templates."""
    import yaml
    from datasette.app import Datasette

    with open(serve.metadata_path()) as handle:
        metadata = yaml.safe_load(handle)
    return Datasette([], immutables=[str(path)], metadata=metadata, plugins_dir=serve.plugins_dir(),
                     template_dir=serve.templates_dir(),
                     settings={"sql_time_limit_ms": 1000, "default_facet_size": 50, "suggest_facets": False})


def get(ds, path):
    return asyncio.run(ds.client.get(path))


def mainline_items():
    return queries.items(kbase.build(None), MAINLINE)


def build_facts() -> Facts:
    """A probed build of 6.1: mainline's helpers and enumerators of 6.1 but helper 195, two backports, a kfunc only
    it has, and a helper the verifier accepted in XDP programs."""
    mainline = mainline_items()
    key = rules.key_text(rules.kernel_key(BUILD_RELEASE, exact=True))
    window = [Window(BUILD_RELEASE)]
    items = [Item(i.kind, i.value, i.name, windows=list(window))
             for i in mainline if is_numbered(i.kind) and i.first_release_key
             and i.first_release_key <= rules.key_text((6, 1, 0, rules.FINAL)) and (i.kind, i.value) != BUILD_LACKS]
    items += [Item(i.kind, i.value, i.name, windows=list(window)) for i in mainline
              if (i.kind, i.value) in BUILD_BACKPORTS]
    items.append(Item("kfunc", VENDOR_KFUNC, VENDOR_KFUNC, windows=list(window),
                      signature="int vendor_only_kfunc(struct task_struct *task)"))
    return Facts(tree=BUILD_TREE, tree_kind=TREE_BUILD, scheme=BUILD_SCHEME, source=Source("btf:test@sha256:00"),
                 collector="btf", qualifier=PROBED, releases=[Release(BUILD_RELEASE, key, "6.1")], items=items,
                 relations=[Relation("helper", 1, "callable_from", "prog_type", 6)],
                 covers=(HELPER, *ENUM_KINDS, KFUNC))


def distro_facts() -> Facts:
    """An Ubuntu-like tree: mainline's 5.15 helpers from its first release, 195 backported into the third."""
    mainline = mainline_items()
    tags = [parse_tag(tag) for tag in DISTRO_TAGS]
    releases = [Release(t.version, t.sort_key, str(t.base), t.tag) for t in tags]
    first = releases[0].version
    items = [Item(i.kind, i.value, i.name, windows=[Window(first)]) for i in mainline
             if i.kind == "helper" and i.first_release_key
             and i.first_release_key <= rules.key_text((5, 15, 0, rules.FINAL))]
    items.append(Item("helper", 195, "map_lookup_percpu_elem", windows=[Window(releases[2].version)]))
    items.append(Item("helper", 500, "gone_helper", windows=[Window(first, releases[1].version)]))
    docs = [HelperDoc(195, "map_lookup_percpu_elem", 0, "void *bpf_map_lookup_percpu_elem(void *map, u32 cpu)",
                      "Perform a lookup in *percpu map*.", "Map value.")]
    return Facts(tree=DISTRO_TREE, tree_kind=TREE_GIT, scheme="ubuntu",
                 source=Source("git:ubuntu@0123456789ab:include/uapi/linux/bpf.h"), collector="git-history",
                 releases=releases, items=items, helper_docs=docs)


def write_user_db(path, *all_facts: Facts) -> str:
    conn = database.connect(str(path))
    database.create_schema(conn)
    with database.transaction(conn, str(path)):
        for facts in all_facts:
            database.write_facts(conn, facts)
    conn.close()
    return str(path)


_HREF = re.compile(r'(?:href|action)="([^"]*)"')


@dataclass
class Crawl:
    seeds: list[str]
    statuses: dict[str, int] = field(default_factory=dict)  # every page fetched -> status
    seconds: dict[str, float] = field(default_factory=dict)
    links: int = 0  # internal links seen on the seed pages, counted with repeats

    def failures(self) -> dict[str, int]:
        return {url: status for url, status in self.statuses.items() if status >= 400}

    def summary(self) -> str:
        counts: dict[int, int] = {}
        for status in self.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        median = statistics.median(self.seconds.values()) * 1000 if self.seconds else 0
        return (f"{len(self.seeds)} seed pages, {self.links} internal links, {len(self.statuses)} distinct pages "
                f"fetched, statuses {dict(sorted(counts.items()))}, median {median:.1f} ms a page")


def internal_links(page: str, body: str) -> list[str]:
    """Every internal link (href, form action) of *body*, as a path with its query."""
    found = []
    for href in _HREF.findall(body):
        url = urlsplit(urljoin("http://localhost" + page, html.unescape(href)))
        if url.scheme in ("http", "https") and url.netloc == "localhost":
            found.append(url.path + (f"?{url.query}" if url.query else ""))
    return found


async def crawl(ds, extra_seeds: tuple[str, ...] = ()) -> Crawl:
    """Fetch `/`, `/kb`, every table's page and *extra_seeds*, then every internal link they have."""
    tables = (await ds.client.get("/kb.json")).json()["tables"]
    result = Crawl(["/", "/kb", *(f"/kb/{t['name']}" for t in tables), *extra_seeds])
    queue: list[str] = []
    for page in result.seeds:
        start = time.perf_counter()
        response = await ds.client.get(page)
        result.seconds[page] = time.perf_counter() - start
        result.statuses[page] = response.status_code
        links = internal_links(page, response.text)
        result.links += len(links)
        queue += links
    for page in dict.fromkeys(queue):
        if page not in result.statuses:
            start = time.perf_counter()
            result.statuses[page] = (await ds.client.get(page)).status_code
            result.seconds[page] = time.perf_counter() - start
    return result
