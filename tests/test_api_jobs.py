"""The Python API (kb.api): every function and result type is named by the package, and each job's module is loaded
only when one of its names is first asked for."""

import ast
import subprocess
import sys

OLD_NAMES = {  # every public name of the single kb/api.py module the package replaced
    "collect", "CollectResult", "CollectedSource", "probe", "ProbeResult", "probe_builds", "BulkProbe", "ProbedBuild",
    "open_kb", "info", "ItemInfo", "diff", "Diff", "check", "CheckRow", "export", "Export", "tables", "scan",
    "publish", "serve", "import_reference", "import_fleet",
}


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_name_is_there_for_import_star_dir_and_help():
    from kb import api

    assert set(api.__all__) == OLD_NAMES
    assert OLD_NAMES <= set(dir(api)) and "__doc__" in dir(api)
    star = _run("from kb.api import *\nprint(sorted(n for n in dir() if not n.startswith('__')))")
    assert set(ast.literal_eval(star)) == OLD_NAMES
    shown = _run("import pydoc, kb.api\nprint(pydoc.plain(pydoc.render_doc(kb.api)))")
    assert "collect(repo" in shown and "class CheckRow" in shown


def test_a_job_is_loaded_when_its_name_is_asked_for():
    loaded = _run(
        "import sys\n"
        "from kb import api\n"
        "jobs = lambda: sorted(m for m in sys.modules if m.startswith('kb.api.'))\n"
        "print(jobs())\n"
        "api.collect\n"
        "print(jobs())\n"
        "from kb.api import CheckRow\n"
        "print(jobs(), api.collect.__module__, callable(api.collect))\n"
    ).splitlines()
    assert loaded == ["[]", "['kb.api._collect']", "['kb.api._collect', 'kb.api._knowledge'] kb.api._collect True"]
