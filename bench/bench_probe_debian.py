"""The offline probe on a real distribution kernel: a Debian cloud kernel's /boot/vmlinuz, read end to end.

    python bench/bench_probe_debian.py [--version 6.1.0-53] [--package NAME] [--image PATH] [--keep DIR]
                                       [--objects DIR]

Finds the newest ``linux-image-<version>-cloud-amd64`` package apt knows (``apt-cache search``; the
``-unsigned`` variant when the signed one is not there), downloads it with ``apt-get download`` into a
temporary directory, unpacks it with ``dpkg-deb -x``, and times read_kernel_btf, the BTF parse and
build_items on its ``boot/vmlinuz-*``; ``--package`` names another package (sid's ``linux-binary-<release>``
holds ``usr/lib/modules/<release>/vmlinuz``); then records it with ``kbgen probe`` (the API) into a temporary
database and prints how the build compares with mainline at its base release, and, with ``--objects``, scans
the BPF objects of a directory against it.  Needs apt and dpkg-deb (Debian or Ubuntu) unless --image is given.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from kb.formats.btf.kernel import build_items
from kb.formats.kimage import read_kernel_btf

_PACKAGE = re.compile(r"^linux-image-(\d+\.\d+\.\d+-\d+)-cloud-amd64(-unsigned)?$")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def find_package(version: str | None) -> str:
    listing = subprocess.run(["apt-cache", "search", "--names-only", "^linux-image-.*-cloud-amd64"],
                             capture_output=True, text=True, check=True).stdout
    found: dict[str, set[str]] = {}
    for line in listing.splitlines():
        match = _PACKAGE.match(line.split(" - ")[0].strip())
        if match:
            found.setdefault(match.group(1), set()).add(match.group(0))
    if not found:
        sys.exit("no linux-image-*-cloud-amd64 package known to apt (run apt-get update?)")
    chosen = version or max(found, key=_version_key)
    if chosen not in found:
        sys.exit(f"no linux-image-{chosen}-cloud-amd64; apt knows {', '.join(sorted(found, key=_version_key))}")
    signed = f"linux-image-{chosen}-cloud-amd64"
    return signed if signed in found[chosen] else f"{signed}-unsigned"


def fetch_image(package: str, workdir: str) -> str:
    subprocess.run(["apt-get", "download", package], cwd=workdir, check=True, capture_output=True)
    (deb,) = glob.glob(os.path.join(workdir, "*.deb"))
    print(f"package: {os.path.basename(deb)} ({os.path.getsize(deb) / 1e6:.1f} MB)")
    root = os.path.join(workdir, "root")
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    # boot/vmlinuz-<release> up to 6.12; usr/lib/modules/<release>/vmlinuz in linux-binary-<release> (7.x)
    images = glob.glob(os.path.join(root, "boot", "vmlinuz-*")) + glob.glob(
        os.path.join(root, "usr", "lib", "modules", "*", "vmlinuz"))
    if len(images) != 1:
        sys.exit(f"{deb}: expected one boot/vmlinuz-* or usr/lib/modules/*/vmlinuz, found {images}")
    return images[0]


def probe(image: str, objects: str | None = None) -> None:
    print(f"image: {image} ({os.path.getsize(image) / 1e6:.1f} MB)")
    start = time.perf_counter()
    kernel = read_kernel_btf(image)
    read = time.perf_counter()
    btf = kernel.parse()
    parsed = time.perf_counter()
    items = build_items(btf)
    done = time.perf_counter()
    codec = f", codec {kernel.codec} ({kernel.decompressed_size / 1e6:.1f} MB decompressed)" if kernel.codec else ""
    protocol = f", boot protocol {kernel.boot_protocol}" if kernel.boot_protocol else ""
    print(f"container: {kernel.container}{codec}{protocol}, machine {kernel.machine}")
    print(f"version: {kernel.version} (from the {kernel.version_source}): {kernel.version_text}")
    order = "little" if kernel.byte_order == "<" else "big"
    print(f"BTF: {len(kernel.btf)} bytes at 0x{kernel.btf_offset:x}, {len(btf) - 1} types, {order} endian")
    for label, enum in (("helpers", items.helpers), ("prog types", items.prog_types), ("map types", items.map_types),
                        ("attach types", items.attach_types), ("link types", items.link_types),
                        ("commands", items.cmds)):
        aliases = f" ({len(enum.enumerators)} names with aliases)" if enum.aliases else ""
        print(f"{label}: {len(enum)}{aliases}" if enum.present else f"{label}: enum {enum.enum} not in the BTF")
    tagged = "tagged" if items.kfuncs_tagged else "NOT tagged (this build does not tell its kfuncs)"
    print(f"kfuncs: {len(items.kfuncs)}, kfuncs {tagged}")
    for name in ("bpf_task_acquire", "bpf_cpumask_create"):
        if name in items.kfuncs:
            print(f"  {items.kfuncs[name].prototype}")
    print(f"time: read_kernel_btf {read - start:.2f} s, parse {parsed - read:.2f} s, build_items {done - parsed:.2f} s, "
          f"total {done - start:.2f} s")
    record(image, objects)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MiB")


def record(image: str, objects: str | None = None) -> None:
    """kbgen probe IMAGE, as a user would run it, into a fresh database; then scan the BPF objects under *objects*
    (a directory) by it."""
    from kb import api

    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "kb.db")
        start = time.perf_counter()
        result = api.probe(image, db=db)
        took = time.perf_counter() - start
        c = result.comparison
        print(f"kbgen probe: tree {c.tree} (base {c.base}) recorded in {took:.2f} s: "
              + ", ".join(f"{n} {kind}s" for kind, n in c.counts.items()))
        for label, rows in (("backports (in the build, mainline only later)", c.backports),
                            ("kept (gone from mainline by the base)", c.kept),
                            ("lacking against mainline at the base", c.lacking),
                            ("unknown to the knowledge base", c.unknown)):
            by_kind: dict[str, int] = {}
            for row in rows:
                by_kind[row.kind] = by_kind.get(row.kind, 0) + 1
            sample = ", ".join(r.name for r in rows[:6])
            print(f"  {label}: {len(rows)} {by_kind or ''} {sample}")
        for warning in result.warnings:
            print(f"  note: {warning}")
        if not objects:
            return
        scan = api.scan([objects], tree=c.tree, db=db)
        for report in scan.objects:
            problems = [f"{f.kind} {f.name or f.id} ({f.status})" for f in report.findings if f.status != "ok"]
            print(f"  scan --tree {c.tree} {os.path.basename(report.path)}: "
                  + ("; ".join(problems) if problems else "ok"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="kernel ABI version such as 6.1.0-53 (default: the newest apt knows)")
    parser.add_argument("--package", help="download this package instead (linux-binary-7.2.13+deb14-amd64)")
    parser.add_argument("--image", help="read this image instead of downloading one")
    parser.add_argument("--keep", help="download into this directory and keep it")
    parser.add_argument("--objects", help="scan the BPF objects under this directory against the probed build")
    args = parser.parse_args()
    if args.image:
        probe(args.image, args.objects)
        return
    for tool in ("apt-cache", "apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: this bench needs a Debian or Ubuntu system (or --image)")
    package = args.package or find_package(args.version)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        probe(fetch_image(package, args.keep), args.objects)
        return
    with tempfile.TemporaryDirectory() as workdir:
        probe(fetch_image(package, workdir), args.objects)


if __name__ == "__main__":
    main()
