"""The published site for tests: Datasette as `kbgen serve` configures it, a probed build and a distribution tree
written as facts; the crawler of internal links is kb.site.crawl."""

from __future__ import annotations

import asyncio
import functools

from kb import api
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


@functools.cache
def _loop():
    return asyncio.new_event_loop()


def get(ds, path):
    """*path* through Datasette's own client, on one event loop for the run: a new loop for each request
    (asyncio.run) cost a fifth to a third of the request."""
    return _loop().run_until_complete(ds.client.get(path))


@functools.cache
def mainline_items():
    return tuple(queries.items(kbase.open_kb(None), MAINLINE))  # the session's cache of the shipped knowledge base


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


def build_user_db(shared) -> str:
    """A user database holding the probed build (made once per run; tests read it)."""
    return str(shared("build-user.db", lambda path: write_user_db(path, build_facts())))


def published(shared, name: str, db: str | None = None, tree: str | None = None):
    """The site of *db*'s knowledge base (the shipped one alone where None) showing *tree*, published once per run."""

    def publish(directory):
        directory.mkdir()  # the file's name is the database's in Datasette's paths: /kb/...
        assert api.publish(str(directory / "kb.db"), db=db or str(directory / "no-user.db"), tree=tree) == (
            tree or MAINLINE)

    return shared(name, publish) / "kb.db"
