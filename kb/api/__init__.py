"""kbgen's Python API: every function returns data; the CLI (kb.cli) renders it (kb.outputs.render, kb.scan.report).

One module per job, loaded when one of its names is first asked for (``api.collect`` loads the collect job
alone): a command pays for its own job's imports only, so that ``kbgen tables`` loads neither git nor Datasette
machinery, and a no-op re-collect neither the facts nor the other jobs' result types.  The functions defer their
own heavier imports the same way.
"""

from __future__ import annotations

import importlib

# The job module of every public name.
_JOBS = {
    "_collect": ("collect", "CollectResult", "CollectedSource"),
    "_builds": ("probe", "ProbeResult", "probe_builds", "BulkProbe", "ProbedBuild"),
    "_knowledge": ("open_kb", "info", "ItemInfo", "diff", "Diff", "check", "CheckRow", "export", "Export"),
    "_outputs": ("tables", "scan", "publish", "serve"),
    "_data": ("import_reference", "import_fleet"),
}
_MODULE_OF = {name: module for module, names in _JOBS.items() for name in names}
__all__ = list(_MODULE_OF)  # for help() and import *: each name is still loaded when it is asked for


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
