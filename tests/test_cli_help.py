"""Every command is documented in the README and has help that reads as documentation."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_documented_and_has_help(name):
    assert f"`kbgen {name}" in README, f"README does not document kbgen {name}"
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert len(cli.commands[name].help or "") > 40
    for param in cli.commands[name].params:
        if param.param_type_name == "option" and param.name != "help":
            assert param.help, f"kbgen {name} --{param.name} has no help"


def test_readme_commands_exist():
    mentioned = set(re.findall(r"`kbgen ([a-z-]+)", README))
    assert mentioned <= set(cli.commands)


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("kbgen, version ")
