"""Scan throughput: objects per second over a directory of many BPF objects.

    python bench/bench_scan.py [--copies 250]

Copies the four test objects (tests/bpf) --copies times each into a temporary directory and times one
`kbgen scan DIR --kernel 5.15 --format json` over all of them, in-process and as a fresh command.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from kb import api

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "tests", "bpf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=250)
    args = parser.parse_args()
    objects = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".o"))
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.copies):
            for name in objects:
                shutil.copy(os.path.join(FIXTURES, name), os.path.join(tmp, f"{n:04d}-{name}"))
        count = args.copies * len(objects)
        size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
        env = dict(os.environ, KBGEN_DB=os.path.join(tmp, "none.db"))
        os.environ["KBGEN_DB"] = env["KBGEN_DB"]
        start = time.perf_counter()
        report, _failed = api.scan([tmp], kernel="5.15", fmt="json")
        inproc = time.perf_counter() - start
        command = [shutil.which("kbgen")] if shutil.which("kbgen") else [sys.executable, "-m", "kb"]
        start = time.perf_counter()
        done = subprocess.run([*command, "scan", tmp, "--kernel", "5.15", "--format", "json"], env=env,
                              capture_output=True, check=False)
        assert done.returncode == 1, done.stderr  # the test objects do need newer kernels than 5.15
        fresh = time.perf_counter() - start
    print(f"objects: {count} ({size / 1e6:.1f} MB), report {len(report) / 1e6:.1f} MB of JSON")
    print(f"in-process: {inproc:.2f} s = {count / inproc:.0f} objects/s")
    print(f"fresh command: {fresh:.2f} s = {count / fresh:.0f} objects/s (start-up included)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
