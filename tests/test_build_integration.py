"""The README's build recipes, as they stand: Make, CMake and meson generate the header through `kbgen tables
--depfile`, compile a program that includes it, and regenerate it when what it is made from changes."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
PROGRAM = '#include "bpf_features.h"\nint main(void) { return !bpf_kb_helper_available(195, "6.1.0-13-amd64"); }\n'


def snippet(language: str) -> str:
    (found,) = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return found


@pytest.fixture
def project(tmp_path):
    """A directory with prog.c, and an environment whose PATH finds this kbgen and whose HOME is empty."""
    (tmp_path / "prog.c").write_text(PROGRAM)
    home = tmp_path / "home"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", HOME=str(home),
               KBGEN_DB=str(tmp_path / "no.db"))
    env.pop("XDG_CACHE_HOME", None)
    return tmp_path, env


def built(directory: Path, env: dict, *command: str) -> str:
    return subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, check=True).stdout


def need(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (.ci/run installs make, cmake, meson and ninja-build)")


def test_make(project):
    need("make", "cc")
    directory, env = project
    (directory / "Makefile").write_text(snippet("make"))
    built(directory, env, "make", "prog")
    assert subprocess.run([str(directory / "prog")], check=False).returncode == 0
    depfile = (directory / "build" / "bpf_features.h.d").read_text()
    assert depfile.startswith("build/bpf_features.h: ") and "items.tsv" in depfile
    assert "up to date" in built(directory, env, "make", "prog")
    assert not (directory / "home").exists()  # a build's kbgen writes nothing but its outputs


def test_cmake(project):
    need("cmake", "cc")
    directory, env = project
    (directory / "CMakeLists.txt").write_text(snippet("cmake"))
    built(directory, env, "cmake", "-S", ".", "-B", "out")
    built(directory, env, "cmake", "--build", "out")
    assert subprocess.run([str(directory / "out" / "prog")], check=False).returncode == 0
    assert (directory / "out" / "bpf_features.h.d").exists()


def test_meson(project):
    need("meson", "ninja", "cc")
    directory, env = project
    (directory / "meson.build").write_text(snippet("meson"))
    built(directory, env, "meson", "setup", "out")
    built(directory, env, "ninja", "-C", "out")
    assert subprocess.run([str(directory / "out" / "prog")], check=False).returncode == 0
    assert "no work to do" in built(directory, env, "ninja", "-C", "out")


def test_python_m_kb(project):
    directory, env = project
    out = built(directory, env, sys.executable, "-m", "kb", "--version")
    assert out.startswith("kbgen, version ")
