"""The project's own code passes ruff, as the generated Python module must."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def test_ruff_check():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed (.ci/run installs it with the test extras)")
    result = subprocess.run([ruff, "check", "kb", "collectors", "tests", "bench"], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout
