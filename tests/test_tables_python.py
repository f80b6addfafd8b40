"""The generated Python module stands alone, passes ruff, and answers real questions."""

import importlib.util
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
    assert module.min_release("attach_type", "BPF_TRACE_FENTRY_MULTI") is None
    assert module.available("attach_type", "BPF_TRACE_FENTRY_MULTI", "7.0") is None
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
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", str(module.PATH)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout
