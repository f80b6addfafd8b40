"""Time a full collect and a no-op re-collect against checking out every tag and grepping, as whole processes.

    python bench/bench_collect.py /path/to/libbpf [--tags 'v*'] [--rounds 5]

Each figure is the wall time of a whole process, start-up and imports included, best of --rounds:
``kbgen collect`` into a new database, the same command again (nothing new: a no-op), and the baseline.
kbgen runs as a user runs it: the console script installed beside this Python (``pip install .``), started
outside the source tree.
The checkout+grep baseline is what people do by hand: for each release tag, check the tree out and grep
the helper names out of bpf.h.  It learns less (first release only: no introducing commit, no renames,
no enums) and still has to touch every tag's tree.  Targets: full collect at least 3.5x faster than the
baseline, a no-op re-collect at most 0.15 of a full collect.  Also timed: ``import git`` alone (gitpython),
which a no-op never pays.

    python bench/bench_collect.py --grep-baseline REPO PATH TAG...   (the baseline's own process)
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
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


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
            out = subprocess.run(["grep", "-oE", r"FN\([a-z0-9_]+", header], capture_output=True, text=True,
                                 check=False).stdout
            for name in re.findall(r"FN\(([a-z0-9_]+)", out):
                first.setdefault(name, tag)
        return first
    finally:
        shutil.rmtree(work)


def version_sorted_tags(repo: str, pattern: str) -> list[str]:
    sys.path.insert(0, ROOT)
    from kb.vocab.versions import Version, VersionError

    names = subprocess.run(["git", "-C", repo, "tag", "-l", pattern], capture_output=True, text=True,
                           check=True).stdout.split()
    out = []
    for name in names:
        try:
            v = Version.parse(name)
        except VersionError:
            continue
        if not v.is_rc and not v.suffix:
            out.append((v, name))
    return [name for _v, name in sorted(out)]


@dataclass
class Run:
    wall: float
    cpu: float  # user + system of the process and every process it waited for (git, forked collectors)
    said: str


def timed(command: list[str], env: dict[str, str], cwd: str = ROOT) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Run(wall, cpu, result.stderr + result.stdout)


def best(runs: list[Run]) -> Run:
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), runs[-1].said)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--grep-baseline":
        repo, path, *tags = sys.argv[2:]
        print(len(checkout_and_grep(repo, tags, path)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo")
    parser.add_argument("--tags", default="v*")
    parser.add_argument("--path", default="include/uapi/linux/bpf.h")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    tags = version_sorted_tags(args.repo, args.tags)
    # kbgen as a user runs it: the installed console script, started outside the source tree, so that the installed
    # (byte-compiled) package runs.  A source tree run under PYTHONDONTWRITEBYTECODE compiles every module at every
    # start (0.04 s of a no-op).
    script = os.path.join(os.path.dirname(sys.executable), "kbgen")
    kbgen = [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "kb"]
    full, noop, baseline, gitpython = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        for round_ in range(args.rounds):
            collect = [*kbgen, "collect", "--repo", args.repo, "--tree", "bench", "--tags", args.tags, "--path",
                       args.path, "--db", os.path.join(tmp, f"kb{round_}.db"), "-q"]
            full.append(timed(collect, env, tmp))
            noop.append(timed(collect, env, tmp))
            assert noop[-1].said.count("up to date") == full[-1].said.count(" items, "), noop[-1].said
            baseline.append(timed([sys.executable, __file__, "--grep-baseline", args.repo, args.path, *tags], env))
            gitpython.append(timed([sys.executable, "-c", "import git"], env))
    said = full[-1].said
    items = sum(int(n) for n in re.findall(r": (\d+) items", said))
    full, noop, baseline, gitpython = best(full), best(noop), best(baseline), best(gitpython)
    print(f"repository: {args.repo} ({len(tags)} release tags, {items} items over {said.count(' items, ')} sources)")
    print(f"best of {args.rounds} whole processes   wall s   cpu s (user+sys, with the git processes)")
    rows = (("full collect", full, ""), ("no-op re-collect", noop, ""),
            ("checkout every tag+grep", baseline, f"{baseline.said.strip()} helper names"),
            ("python -c 'import git'", gitpython, "a no-op never pays it"))
    for label, run, note in rows:
        print(f"{label + ':':28} {run.wall:7.3f} {run.cpu:7.3f}   {note}")
    print(f"{'baseline / full collect:':28} {baseline.wall / full.wall:6.2f}x {baseline.cpu / full.cpu:6.2f}x  "
          "(target >= 3.5)")
    print(f"{'no-op / full collect:':28} {noop.wall / full.wall:7.2f} {noop.cpu / full.cpu:7.2f}   (target <= 0.15)")

if __name__ == "__main__":
    main()
