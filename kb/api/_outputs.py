"""What is made from the knowledge base: lookup tables, scans of compiled objects, the Datasette site."""

from __future__ import annotations

from kb.api._knowledge import open_kb
from kb.paths import user_db


def tables(*, db=None, tree=None, languages=None, output="kbgen-tables", check=False, prefix=None, depfile=None):
    """Write (or, with *check*, compare) the lookup tables of *tree*.  Writes nothing but its outputs: no cache, no
    directory for the user's database."""
    from kb.outputs.tables import generate
    from kb.store.kbase import open_kb as _open

    db = db or user_db(create=False)
    return generate(_open(db, cache=False), tree=tree, languages=languages or None, output=output, check=check,
                    prefix=prefix, depfile=depfile, user_db=db)


def scan(paths: list[str], *, kernel=None, tree=None, db=None, btf=None, trees=None, fleet=False):
    """The scan of *paths* against *kernel* in *tree* (kb.scan.ScanResult), with *btf* (a probe source) as the
    target's BTF; or, given several *trees* or *fleet* (every build), a matrix of objects x builds
    (kb.scan.fleet.FleetResult).  A build's BTF kept in the user's database (kb.store.btf_blobs) serves CO-RE."""
    from kb.store import btf_blobs

    path = db or user_db()

    def btf_of(name):
        return btf_blobs.load(path, name)

    conn = open_kb(db)
    if fleet or (trees and len(trees) > 1):
        from kb.scan import fleet as fleets

        names = list(trees or [])
        if fleet:
            names += [name for name in fleets.build_trees(conn) if name not in names]
        return fleets.scan_fleet(conn, paths, names, btf_of=btf_of)
    from kb.scan.judge import scan as run_scan

    return run_scan(conn, paths, kernel=kernel, tree=tree or (trees[0] if trees else None), btf=btf, btf_of=btf_of)


def publish(path: str, *, db=None, tree=None) -> str:
    """Write the database Datasette serves to *path*; returns the tree it publishes."""
    from kb.site import publish as publisher

    return publisher.build(open_kb(db), path, tree)


def serve(*, db=None, host="127.0.0.1", port=8001, tree=None, time_limit_ms=1000) -> None:
    from kb.site import serve as serving

    serving.serve(lambda path: publish(path, db=db, tree=tree), host=host, port=port, time_limit_ms=time_limit_ms)
