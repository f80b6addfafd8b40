"""`kbgen tables` runs in builds: it must not import Datasette or git machinery."""

import subprocess
import sys


def test_tables_imports_nothing_heavy(tmp_path):
    code = (
        "import sys\n"
        "from kb.cli import cli\n"
        "try:\n"
        f"    cli(['tables', '-o', {str(tmp_path / 'out')!r}, '--db', {str(tmp_path / 'none.db')!r}])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "               ('datasette', 'git', 'sqlite_utils', 'elftools', 'collectors.git_history'))\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "out" / "bpf_features.h").exists()
