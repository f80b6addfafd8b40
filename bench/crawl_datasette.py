"""Every internal link of the published site, fetched over HTTP from a real `kbgen serve` on loopback: pages,
statuses, median and slowest page times.

    python bench/crawl_datasette.py [--build [BTF]] [--repo REPO --tree TREE] [--max-pages 5000]

Serves the shipped knowledge base (with --build, also a build probed from BTF, this machine's kernel by default;
with --repo, also a tree collected from a git repository) and walks the site breadth first from `/`, `/kb`
and every table's page, following every internal link (href and form action) until no new page or
--max-pages is reached.  Exit status 1 when any page answers 4xx or 5xx.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import urljoin, urlsplit

LINK = re.compile(r'(?:href|action)="([^"]*)"')


def kbgen(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        sys.exit(f"kbgen {' '.join(args)} failed: {result.stderr.strip()}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(base: str, page: str) -> tuple[int, str, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(base + page, timeout=30) as response:
            status, body = response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        status, body = err.code, ""
    return status, body, time.perf_counter() - start


def links_of(page: str, body: str) -> list[str]:
    pages = []
    for href in LINK.findall(body):
        url = urlsplit(urljoin("http://site" + page, html.unescape(href)))
        if url.netloc == "site" and url.scheme == "http":
            pages.append(url.path + (f"?{url.query}" if url.query else ""))
    return pages


def walk(base: str, seeds: list[str], limit: int) -> dict[str, tuple[int, float]]:
    """page -> (status, seconds), breadth first from *seeds*."""
    seen: dict[str, tuple[int, float]] = {}
    frontier = list(dict.fromkeys(seeds))
    while frontier and len(seen) < limit:
        following = []
        for page in frontier[:limit - len(seen)]:
            status, body, seconds = fetch(base, page)
            seen[page] = (status, seconds)
            following += [p for p in links_of(page, body) if p not in seen]
        frontier = list(dict.fromkeys(p for p in following if p not in seen))
    return seen


def wait_for(base: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            sys.exit(f"kbgen serve stopped: {server.stderr.read()}")
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("kbgen serve did not answer in 30 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", nargs="?", const="/sys/kernel/btf/vmlinux", help="probe this BTF or image too")
    parser.add_argument("--repo", help="collect this git repository too (with --tree)")
    parser.add_argument("--tree", default="bench", help="tree name for --repo")
    parser.add_argument("--max-pages", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"), KBGEN_DB=os.path.join(tmp, "kb.db"))
        if args.build:
            kbgen("probe", args.build, "--tree", "build", env=env)
        if args.repo:
            kbgen("collect", "--repo", args.repo, "--tree", args.tree, "-q", env=env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(base, server)
            tables = json.loads(urllib.request.urlopen(base + "/kb.json", timeout=30).read())["tables"]
            start = time.perf_counter()
            pages = walk(base, ["/", "/kb", *(f"/kb/{t['name']}" for t in tables)], args.max_pages)
            elapsed = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(timeout=30)
    statuses: dict[int, int] = {}
    for status, _seconds in pages.values():
        statuses[status] = statuses.get(status, 0) + 1
    times = [seconds for _status, seconds in pages.values()]
    print(f"{len(pages)} pages in {elapsed:.1f} s, statuses {dict(sorted(statuses.items()))}, median "
          f"{statistics.median(times) * 1000:.1f} ms a page" + (" (stopped at --max-pages)" if
                                                                  len(pages) >= args.max_pages else ""))
    slowest = sorted(pages.items(), key=lambda item: -item[1][1])[:5]
    print("slowest: " + ", ".join(f"{page} {seconds * 1000:.0f} ms" for page, (_status, seconds) in slowest))
    failures = sorted((page, status) for page, (status, _seconds) in pages.items() if status >= 400)
    for page, status in failures:
        print(f"{status} {page}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
