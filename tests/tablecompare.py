"""What the generated Go and Rust tables are compared with: the generated Python module's answers, on every helper and
command of a tree and a set of kernel release strings, as lines ``kernel number, id, status, since, until, release,
approximate`` (``kernel number, id, error`` for a string that is no kernel release)."""

import importlib.util

from click.testing import CliRunner

from kb.cli import cli

# Twenty kernel strings judged in mainline: releases, distributions' builds (approximate), rc kernels, a kernel
# newer than the knowledge base, strings that are no kernel.
MAINLINE_KERNELS = ("5.15", "5.15.0-91-generic", "5.19-rc1", "5.19.0-1-amd64", "6.16", "6.16.0-rc1",
                    "4.18.0-513.el8.x86_64", "3.10", "v6.1.12", "7.0", "7.3", "22.04", "linux", "6.18", " 6.1 ",
                    "6.17-rc3", "4.9.337", "2.6.32", "6.8~rc7", "5.4.0-150-generic")
# Judged in an Ubuntu-style tree (tests/test_distribution_trees.py): its own builds, one between its releases, one
# older than all of them, mainline strings.
UBUNTU_KERNELS = ("5.15.0-25-generic", "5.15.0-91-generic", "5.15.0-100-generic", "5.15.0-101-generic",
                  "5.15.0-91.101", "5.15.0-50-generic", "5.14.0-1-generic", "5.15", "6.1", "7.3")


def generate(lang, out, *args):
    result = CliRunner().invoke(cli, ["tables", "--lang", lang, "-o", str(out), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def python_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_answers(module, kernels):
    """The lines the Go and Rust programs print, as the Python module answers."""
    lines = []
    # Helpers by id; commands as cmd:<value>: they hold an arrival known only within bounds (tests/test_bounded_arrival.py).
    compared = [("helper", value, str(value)) for value in module.HELPERS]
    compared += [("cmd", value, f"cmd:{value}") for value in module.ENUMS.get("cmd", ())]
    for number, kernel in enumerate(kernels):
        for kind, value, label in compared:
            try:
                why = module.why(value, kernel, kind)
            except ValueError:
                lines.append(f"{number}\t{label}\terror")
                continue
            since, until = why.window or (None, None)
            lines.append("\t".join([str(number), label, why.status, since or "", until or "", why.release or "",
                                    why.approximate or ""]))
    return lines


def kernels_file(path, kernels):
    """The kernels one a line, for the compiled programs to read (a leading space kept)."""
    path.write_text("".join(f"{k}\n" for k in kernels))
    return path


def ubuntu_tables(tmp_path, lang, out):
    """Collect the Ubuntu-style tree of tests/test_distribution_trees.py; (its Python module, its *lang* tables)."""
    from test_distribution_trees import build_tree, run

    history = build_tree(tmp_path / "kernel", "ubuntu")
    db = tmp_path / "kb.db"
    assert run("collect", "--repo", history.path, "--tree", "ubuntu-tree", "--db", str(db), "-q").exit_code == 0
    where = ["--tree", "ubuntu-tree", "--db", str(db)]
    module = python_module(generate("python", tmp_path / "ubuntu.py", *where), f"{lang}_ubuntu_tables")
    return module, generate(lang, out, *where)


def compared_on_mainline(tmp_path, lang, out, answers):
    """Run *answers* (the compiled program's lines and stderr) on mainline's *lang* tables; assert they are the Python
    module's on every helper for the twenty kernels; the program's stderr."""
    module = python_module(generate("python", tmp_path / "mainline.py"), f"{lang}_mainline_tables")
    lines, names = answers(tmp_path, generate(lang, out), MAINLINE_KERNELS)
    expected = python_answers(module, MAINLINE_KERNELS)
    assert len(expected) == 20 * (212 + len(module.ENUMS["cmd"]))
    assert lines == expected
    return names


def compared_on_ubuntu(tmp_path, lang, out, answers):
    """The same in the Ubuntu-style tree; the program's lines."""
    module, tables = ubuntu_tables(tmp_path, lang, out)
    lines, _names = answers(tmp_path, tables, UBUNTU_KERNELS)
    assert lines == python_answers(module, UBUNTU_KERNELS)
    return lines
