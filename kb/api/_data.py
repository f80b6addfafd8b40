"""Rebuild the shipped ``data/`` from the reference facts and the fleet: the maintainers' ``kbgen import-*``."""

from __future__ import annotations

import os
from collections.abc import Callable


def import_reference(reference_dir: str, header: str | None, out_dir: str, data_version: str,
                     libbpf: str | None = None, report: Callable[[str], None] | None = None) -> list[str]:
    """Rebuild the shipped ``data/`` text from the reference facts and a real header, and, given a libbpf
    repository, libbpf's section tables mined from its history.  The fleet of real builds shipped in
    ``<out_dir>/fleet/`` dates what the references do not (see collectors.fleet.date_by_builds); *report* is told
    how many items it dated."""
    from collectors.fleet import date_by_builds
    from collectors.reference import ReferenceError, read_reference
    from kb.store import shipped

    if not os.path.isdir(out_dir):
        raise ReferenceError(f"{out_dir}: no such directory")
    mined = None
    if libbpf:
        from collectors.libbpf_sections import LibbpfSectionsCollector

        if not LibbpfSectionsCollector.accepts(libbpf):
            raise ReferenceError(f"{libbpf}: not a libbpf repository (no src/libbpf.c at HEAD)")
        mined = LibbpfSectionsCollector(libbpf, tree=shipped.LIBBPF_TREE).collect()
    mainline = read_reference(reference_dir, header)
    dated = date_by_builds(mainline, shipped.load_fleet(out_dir))
    if report and dated:
        report(f"dated by the fleet: {dated['exact']} exactly, {dated['bounded']} between two releases "
               f"({dated['added']} items only builds know); {dated['removed']} windows closed")
    written = shipped.dump(mainline, out_dir, data_version)
    if mined is not None:
        written += shipped.dump_libbpf(mined, out_dir)
    return written


def import_fleet(manifest: str, out_dir: str, *, jobs: int = 2,
                 progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Read every build a fleet manifest lists (extracted packages, with the sha256 of each .deb) and write their
    exact item sets as the shipped fleet, ``<out_dir>/fleet/``; nothing is written unless every build reads."""
    from collectors import fleet
    from collectors.reference import ReferenceError
    from kb.store import shipped

    if not os.path.isdir(out_dir):
        raise ReferenceError(f"{out_dir}: no such directory")
    builds = fleet.read_manifest(manifest)
    gathered = []
    for outcome in fleet.read_all(builds, jobs):
        if outcome.facts is None:
            raise ReferenceError(outcome.error)
        gathered.append(outcome.facts)
        if progress:
            progress(len(gathered), len(builds))
    return shipped.dump_fleet(gathered, out_dir)
