"""Reading a build's modules: time and peak memory of ``BuildBTFCollector.collect()`` on extracted Debian packages.

    python bench/bench_probe_modules.py ROOT [ROOT...] [--full] [--jobs N]

Each ROOT is an extracted kernel package root (``dpkg-deb -x``; sid's image and modules packages extracted into
one directory), such as ``/work/kernels/sid-amd64-7.2.13-1``.  Every build is read in a child process of its own,
so the peak RSS printed is that build's alone (the children of a parallel module read are counted too).
Prints per build: seconds, peak RSS, module files, modules read, vmlinux kfuncs, module kfuncs.

``--full`` also reads every module's BTF whole, the way the probe did before it skipped modules that cannot
register kfuncs (no ``.BTF_ids`` section), and says whether both reads find exactly the same module kfuncs
(name, module and prototype).

Figures (2 CPUs, load ~3-4 from other work; seconds include reading the image):
sid 7.2.13 amd64 (4216 .ko.xz): 19.3 s before (every module's BTF parsed, pyelftools), 9.5 s reading only the
section table of modules without .BTF_ids (--jobs 1), 5.3 s in 2 processes; trixie 6.12.118 amd64 (4230
.ko.xz): 16.6 s, 8.6 s, 7.9 s; peak RSS 168 and 157 MiB throughout (the decompressed image's); the same 31 and 30
module kfuncs as the full read (--full).  What is left is xz: decompressing every module to reach its section table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def read_build(root: str, jobs: int | None) -> dict:
    from collectors import build, fleet

    [(image, release)] = fleet.package_images(root)
    modules = fleet.module_files(root, release)
    if jobs is not None:
        build.MODULE_JOBS = jobs
    start = time.perf_counter()
    facts = build.BuildBTFCollector(image, labels=fleet.package_labels(root, release), modules=modules).collect()
    took = time.perf_counter() - start
    kfuncs = [i for i in facts.items if i.kind == "kfunc"]
    in_modules = {i.name: [i.note, i.signature] for i in kfuncs if i.note}
    return {"root": root, "release": release, "seconds": round(took, 2), "module_files": len(modules),
            "modules": facts.labels.get("modules"), "vmlinux_kfuncs": len(kfuncs) - len(in_modules),
            "module_kfuncs": in_modules, "warnings": len(facts.warnings)}


def full_read(root: str) -> dict:
    """Every module's .BTF parsed whole (pyelftools, build_items), as the probe did at first."""
    import io

    from elftools.elf.elffile import ELFFile

    from collectors import build, fleet
    from kb.formats.btf.kernel import build_items
    from kb.formats.btf.reader import parse_btf
    from kb.formats.kimage import read_kernel_btf
    from kb.formats.kimage.codecs import codec_of, decompress

    [(image, release)] = fleet.package_images(root)
    kernel = read_kernel_btf(image)
    own = kernel.items().kfuncs
    base = kernel.parse()
    start = time.perf_counter()
    found: dict = {}
    for path in fleet.module_files(root, release):
        with open(path, "rb") as handle:
            data = handle.read()
        codec = codec_of(data)
        if codec:
            data = bytes(decompress(codec, data, build.MAX_MODULE_SIZE))
        section = ELFFile(io.BytesIO(data)).get_section_by_name(".BTF")
        if section is None:
            continue
        for name, kfunc in build_items(parse_btf(section.data(), base=base)).kfuncs.items():
            if name not in own:
                found.setdefault(name, [f"in module {build.module_name(path)}", kfunc.prototype])
    return {"seconds": round(time.perf_counter() - start, 2), "module_kfuncs": found}


def child(root: str, mode: str, jobs: int | None) -> tuple[dict, float]:
    """Run one read in a child process: (its result, its peak RSS in MiB, its own children included)."""
    command = [sys.executable, __file__, "--child", mode, root] + (["--jobs", str(jobs)] if jobs else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        sys.exit(f"{root}: the {mode} read failed")
    return json.loads(output), usage.ru_maxrss / 1024  # wait4's peak covers the child's own reaped children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+")
    parser.add_argument("--full", action="store_true", help="compare with a full read of every module's BTF")
    parser.add_argument("--jobs", type=int, help="processes reading one build's modules (default: the probe's)")
    parser.add_argument("--child", choices=("probe", "full"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = read_build(args.roots[0], args.jobs) if args.child == "probe" else full_read(args.roots[0])
        print(json.dumps(result))
        return
    for root in args.roots:
        result, peak = child(root, "probe", args.jobs)
        print(f"{result['release']}: {result['seconds']:.1f} s, peak RSS {peak:.0f} MiB, "
              f"{result['module_files']} module files, modules={result['modules']}, "
              f"{result['vmlinux_kfuncs']} vmlinux kfuncs, {len(result['module_kfuncs'])} module kfuncs, "
              f"{result['warnings']} warnings")
        if args.full:
            full, full_peak = child(root, "full", None)
            same = full["module_kfuncs"] == result["module_kfuncs"]
            print(f"  full read of every module's BTF: {full['seconds']:.1f} s (modules only), peak RSS "
                  f"{full_peak:.0f} MiB, {len(full['module_kfuncs'])} module kfuncs: "
                  + ("the same, exactly" if same else "DIFFERENT"))
            if not same:
                for name in sorted(set(full["module_kfuncs"]) ^ set(result["module_kfuncs"])):
                    print(f"    {name}: full {full['module_kfuncs'].get(name)} probe {result['module_kfuncs'].get(name)}")
                sys.exit(1)


if __name__ == "__main__":
    main()
