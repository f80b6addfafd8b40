"""Every internal link of the published site, fetched through Datasette's own client: pages, links, statuses,
median page time.

    python bench/crawl_datasette.py [--with-trees]

Publishes the shipped knowledge base (with --with-trees, also a probed build and a distribution tree, as the
tests make them) and crawls `/`, `/kb`, every table's page and every internal link they have.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from datasette_site import build_facts, crawl, datasette_for, distro_facts, write_user_db

from kb import api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-trees", action="store_true", help="add a probed build and a distribution tree")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")
        user = os.path.join(tmp, "user.db")
        if args.with_trees:
            write_user_db(user, build_facts(), distro_facts())
        path = os.path.join(tmp, "kb.db")
        api.publish(path, db=user)
        result = asyncio.run(crawl(datasette_for(path)))
    print(result.summary())
    slowest = sorted(result.seconds.items(), key=lambda item: -item[1])[:5]
    print("slowest: " + ", ".join(f"{url} {seconds * 1000:.0f} ms" for url, seconds in slowest))
    failures = result.failures()
    for url, status in sorted(failures.items()):
        print(f"{status} {url}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
