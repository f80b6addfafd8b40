"""The generated Python module stands alone, passes ruff, and answers real questions."""

import importlib.util
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from kb.cli import cli


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    out = tmp_path_factory.mktemp("pytables")
    result = CliRunner().invoke(cli, ["tables", "--lang", "python", "-o", str(out), "--db", str(out / "none.db")])
    assert result.exit_code == 0, result.output
    path = out / "bpf_features.py"
    spec = importlib.util.spec_from_file_location("bpf_features_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.PATH = path
    return mod


def test_standalone_no_kbgen_import(module):
    source = module.PATH.read_text()
    assert "kbgen" not in [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    result = subprocess.run([sys.executable, "-I", "-c", f"import runpy; runpy.run_path({str(module.PATH)!r})"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_values(module):
    assert module.helper_min_release(195) == "5.19"
    assert module.helper_min_release("bpf_map_lookup_percpu_elem") == "5.19"
    assert module.helper_min_release("BPF_FUNC_map_lookup_percpu_elem") == "5.19"
    assert module.helper_available(195, "5.15.0-91-generic") is False
    assert module.helper_available(195, "5.19.0-1-amd64") is True
    assert module.helper_available("map_lookup_percpu_elem", "6.1") is True
    assert module.min_release("prog_type", "BPF_PROG_TYPE_XDP") == "4.8"
    assert module.min_release("cmd", "BPF_PROG_RUN") == module.min_release("cmd", 10)
    assert module.min_release("attach_type", "BPF_STRUCT_OPS") == "6.4"
    assert module.min_release("cmd", "BPF_PROG_ASSOC_STRUCT_OPS") is None  # 6.19 or 7.0: not established
    # Arrived after 6.18, by 7.0: there from 7.0 on, not yet in 6.18, unknown between.
    assert [module.available("cmd", "BPF_PROG_ASSOC_STRUCT_OPS", k) for k in ("6.18.3", "6.19", "7.0", "7.1")] == [
        False, None, True, True]
    assert module.min_release("kfunc", "bpf_cpumask_create") == "6.3"
    assert len(module.HELPERS) == 212


def test_windows_and_the_rc_rule(module):
    assert module.removed_in("kfunc", "cgroup_rstat_flush") == "6.16"
    assert module.available("kfunc", "cgroup_rstat_flush", "6.15") is True
    assert module.available("kfunc", "cgroup_rstat_flush", "6.16") is False
    assert module.available("kfunc", "cgroup_rstat_flush", "6.16.0-rc1") is False  # an rc is its final release
    assert module.available("kfunc", "cgroup_rstat_flush", "6.15.0-72-generic") is True
    # Two windows: in 6.17, gone in 6.18, back in 7.0.
    assert [module.available("kfunc", "bpf_stream_vprintk", k) for k in ("6.16", "6.17", "6.18", "7.0")] == [
        False, True, False, True]
    assert module.helper_available(195, "5.19-rc1") is True
    assert module.helper_available(195, "5.18.19") is False


def test_bad_input(module):
    with pytest.raises(KeyError, match="unknown helper id 999"):
        module.helper_min_release(999)
    with pytest.raises(KeyError):
        module.helper_min_release("no_such_helper")
    with pytest.raises(ValueError, match="not a kernel version"):
        module.helper_available(1, "linux")


def test_passes_ruff(module):
    """As Python 3.7 code (ruff's oldest target): typing's Optional, no future imports, since it runs on 3.6."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--target-version", "py37",
                             "--ignore", "FA100", str(module.PATH)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_names_people_use_with_or_without_a_kind(module):
    assert module.lookup("xdp") == module.lookup("XDP") == module.lookup("BPF_PROG_TYPE_XDP") == ("prog_type", 6)
    assert module.lookup("attach_type:XDP") == module.lookup("xdp", "attach_type") == ("attach_type", 37)
    assert module.lookup("bpf_map_lookup_percpu_elem") == module.lookup("195") == module.lookup(195) == ("helper", 195)
    assert module.lookup("BPF_FUNC_skb_set_tstamp") == ("helper", 192)  # a former name
    assert module.min_release("prog_type", "xdp") == module.min_release(None, "XDP") == "4.8"
    assert module.available("prog_type", "XDP", "5.15.0-91-generic") is True
    assert module.name_of(None, 195) == "map_lookup_percpu_elem"
    with pytest.raises(KeyError, match="unknown prog_type 'no_such_type'"):
        module.lookup("no_such_type", "prog_type")


def test_why(module):
    why = module.why(195, "5.15.0-91-generic")
    assert (why.status, why.window, why.release) == ("not_yet", ("5.19", None), "5.15")
    assert "distribution's build" in why.approximate
    assert module.why("bpf_stream_vprintk", "6.18.2")[4:7] == ("removed", ("6.17", "6.18"), "6.18")
    assert module.why("bpf_stream_vprintk", "7.0-rc1").status == "available"
    assert module.why(195, "6.1").approximate is None
    beyond = module.why(195, "7.9")
    assert (beyond.status, beyond.window) == ("unknown", None) and "newer than the knowledge base" in beyond.approximate
    assert module.available("helper", 195, "7.9") is None
    assert module.why("BPF_PROG_ASSOC_STRUCT_OPS", "6.19").status == "unknown"
    assert module.why("BPF_PROG_ASSOC_STRUCT_OPS", "7.0")[4:6] == ("available", None)  # no window: bounded
    with pytest.raises(ValueError, match="not a kernel release"):
        module.why(195, "22.04")


def test_gpl_only_and_what_it_exports(module):
    assert module.gpl_only("probe_read") is True and module.gpl_only(195) is False
    assert module.gpl_only("xdp", "prog_type") is None
    assert {"lookup", "why", "gpl_only", "available", "min_release", "Why", "TREE"} <= set(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
    assert module.why.__annotations__["return"] is module.Why


def test_importable_on_python_3_6(module):
    python36 = "/root/.pyenv/versions/3.6.15/bin/python"
    if not os.path.exists(python36):
        pytest.skip("no Python 3.6 here (pyenv's 3.6.15); the module is checked as 3.7 code by ruff")
    code = (f"import runpy; m = runpy.run_path({str(module.PATH)!r}); w = m['why']('xdp', '5.15.0-91-generic');"
            " print(w.status, m['lookup']('bpf_probe_read'), m['gpl_only'](4))")
    result = subprocess.run([python36, "-I", "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout == "available ('helper', 4) True\n", result.stderr
