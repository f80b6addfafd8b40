"""The project's own code passes ruff (complexity included: at most 15 per function), run by the interpreter that
runs the tests, so the README's test command runs it too."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def ruff(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_ruff_check():
    result = ruff("check", "kb", "collectors", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_complexity_rule_is_on(tmp_path):
    """A function with sixteen branches is refused under the project's configuration."""
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(16))
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "sample.py").write_text(f"def f(x):\n{branches}    return -1\n")
    result = ruff("check", "sample.py", cwd=tmp_path)
    assert result.returncode == 1 and "C901" in result.stdout, result.stdout + result.stderr
