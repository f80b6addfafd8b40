"""Every internal link of the published site, fetched through Datasette's own client: pages, links, statuses,
median page time (the tests fetch a fixed sample of the same links).

    python bench/crawl_datasette.py [--db USER_DB]

Publishes the shipped knowledge base (with --db, the trees of a user database too: collected histories, probed
builds) and crawls `/`, `/kb`, every table's page and every internal link they have.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import yaml
from datasette.app import Datasette

from kb import api
from kb.site import serve
from kb.site.crawl import crawl

EXTRA_SEEDS = ("/kb/check?kernel=5.15.0-91-generic&items=195", "/kb/diff?from=5.15&to=6.1",
               "/kb/fleet?items=bpf_loop%2C+XDP%2C+fentry&kernels=5.4+6.1", "/kb/prog_types/6?kernel=5.4",
               "/kb/arrived_in?release=5.19", "/kb/trees/mainline")


def datasette_for(path: str) -> Datasette:
    with open(serve.metadata_path()) as handle:
        metadata = yaml.safe_load(handle)
    return Datasette([], immutables=[path], metadata=metadata, plugins_dir=serve.plugins_dir(),
                     template_dir=serve.templates_dir(),
                     settings={"sql_time_limit_ms": 1000, "default_facet_size": 50, "suggest_facets": False})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a user database whose trees are published too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")
        path = os.path.join(tmp, "kb.db")
        api.publish(path, db=args.db or os.path.join(tmp, "none.db"))
        result = asyncio.run(crawl(datasette_for(path), EXTRA_SEEDS))
    print(result.summary())
    slowest = sorted(result.seconds.items(), key=lambda item: -item[1])[:5]
    print("slowest: " + ", ".join(f"{url} {seconds * 1000:.0f} ms" for url, seconds in slowest))
    failures = result.failures()
    for url, status in sorted(failures.items()):
        print(f"{status} {url}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
