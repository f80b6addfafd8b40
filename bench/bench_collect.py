"""Time a full collect and a no-op re-collect against checking out every tag and grepping, on one repo.

    python bench/bench_collect.py /path/to/libbpf [--tags 'v*']

The checkout+grep baseline is what people do by hand: for each release tag, check the tree out and grep
the helper names out of bpf.h.  It learns less (first release only: no introducing commit, no renames,
no enums) and still has to touch every tag's tree.  Targets: full collect at least 3x faster than the
baseline, a no-op re-collect at most 0.15 of a full collect.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from kb import api


def checkout_and_grep(repo: str, tags: list[str], path: str) -> dict[str, str]:
    """helper name -> first tag, by checking out each tag into a work tree and grepping the header."""
    work = tempfile.mkdtemp(prefix="kbgen-bench-")
    try:
        subprocess.run(["git", "clone", "-q", "--no-checkout", repo, work], check=True)
        first: dict[str, str] = {}
        for tag in tags:
            subprocess.run(["git", "-C", work, "checkout", "-q", "-f", tag], check=True)
            header = os.path.join(work, path)
            if not os.path.exists(header):
                continue
            out = subprocess.run(["grep", "-oE", r"FN\([a-z0-9_]+", header], capture_output=True, text=True, check=False).stdout
            for name in re.findall(r"FN\(([a-z0-9_]+)", out):
                first.setdefault(name, tag)
        return first
    finally:
        shutil.rmtree(work)


def version_sorted_tags(repo: str, pattern: str) -> list[str]:
    from kb.vocab.versions import Version, VersionError

    names = subprocess.run(["git", "-C", repo, "tag", "-l", pattern], capture_output=True, text=True, check=True).stdout.split()
    out = []
    for name in names:
        try:
            v = Version.parse(name)
        except VersionError:
            continue
        if not v.is_rc and not v.suffix:
            out.append((v, name))
    return [name for _v, name in sorted(out)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo")
    parser.add_argument("--tags", default="v*")
    parser.add_argument("--path", default="include/uapi/linux/bpf.h")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tags = version_sorted_tags(args.repo, args.tags)
    full, noop, baseline = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            db = os.path.join(tmp, f"kb{round_}.db")
            start = time.perf_counter()
            result = api.collect(args.repo, db=db, tree="bench", tags=args.tags, path=args.path)
            full.append(time.perf_counter() - start)
            start = time.perf_counter()
            again = api.collect(args.repo, db=db, tree="bench", tags=args.tags, path=args.path)
            noop.append(time.perf_counter() - start)
            assert [s.status for s in again.sources] == ["up to date"] * len(again.sources)
            start = time.perf_counter()
            grepped = checkout_and_grep(args.repo, tags, args.path)
            baseline.append(time.perf_counter() - start)
    best = min
    items = sum(s.items for s in result.sources)
    print(f"repository: {args.repo} ({len(tags)} release tags, {items} items)")
    print(f"full collect:           {best(full):7.3f} s   (best of {args.rounds})")
    print(f"no-op re-collect:       {best(noop):7.3f} s")
    print(f"checkout every tag+grep:{best(baseline):7.3f} s   ({len(grepped)} helper names found)")
    print(f"baseline / full collect: {best(baseline) / best(full):5.2f}x   (target >= 3)")
    print(f"no-op / full collect:    {best(noop) / best(full):5.2f}    (target <= 0.15)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
