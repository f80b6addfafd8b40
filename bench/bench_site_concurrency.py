"""Sorted table pages under concurrent clients: a real `kbgen serve` on loopback, N clients each fetching sorted
and faceted pages, latency p50/p95/max (one client first, as the baseline).

    python bench/bench_site_concurrency.py [--clients 8] [--rounds 6] [--db USER_DB]

Serves the shipped knowledge base (and, with --db, the trees of a user database).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

PAGES = [
    "/kb/helpers?_sort=first_release", "/kb/helpers?_sort_desc=first_release", "/kb/kfuncs?_sort=first_release",
    "/kb/kfuncs?_sort_desc=removed_in", "/kb/items?_sort=first_release", "/kb/items?_sort_desc=first_release",
    "/kb/prog_types?_sort=first_release", "/kb/features?_sort_desc=first_release", "/kb/helpers?_sort=name",
    "/kb/releases?_sort_desc=version", "/kb/helpers.json?_sort=first_release&_size=max",
    "/kb/check?kernel=5.15&items=bpf_loop%2C+XDP%2C+fentry",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
        assert response.status == 200, (url, response.status)
    return time.perf_counter() - start


def run(base: str, clients: int, rounds: int) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        for round_ in range(rounds):
            for index in range(len(PAGES)):
                took = fetch(base + PAGES[(index + offset + round_) % len(PAGES)])
                with lock:
                    times.append(took)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(f"{label}: {len(times)} pages, p50 {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {ordered[-1] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--db", help="a user database whose trees are served too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        db = args.db or os.path.join(tmp, "none.db")
        proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--db", db], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                try:
                    fetch(base + "/kb.json")
                    break
                except (urllib.error.URLError, ConnectionError):
                    if proc.poll() is not None or time.time() > deadline:
                        sys.exit("server did not start")
                    time.sleep(0.3)
            for page in PAGES:  # warm: templates compiled, caches filled
                fetch(base + page)
            report("1 client", run(base, 1, args.rounds))
            report(f"{args.clients} clients", run(base, args.clients, args.rounds))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
