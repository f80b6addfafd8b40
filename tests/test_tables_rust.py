"""`kbgen tables --lang rust`: a Rust module (standard library only) that compiles without warnings and answers as
the Python module does on every helper and command, for mainline and a distribution tree, on twenty kernel strings."""

import shutil
import subprocess

import pytest
from tablecompare import compared_on_mainline, compared_on_ubuntu, kernels_file

pytestmark = pytest.mark.skipif(not shutil.which("rustc"), reason="rustc not installed (.ci/run installs rustc)")

MAIN = """mod bpf_features;

use std::io::BufRead;

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    for (number, line) in file.lines().enumerate() {
        let kernel = line.unwrap();
        for (i, item) in bpf_features::ITEMS.iter().enumerate() {
            if item.kind != "helper" && item.kind != "cmd" {
                continue;
            }
            let id = if item.kind == "helper" { item.value.to_string() } else { format!("{}:{}", item.kind, item.value) };
            match bpf_features::explain(i, Some(&kernel)) {
                Ok(why) => println!("{}\\t{}\\t{}\\t{}\\t{}\\t{}\\t{}", number, id, why.status, why.since,
                                    why.until, why.release, why.approximate),
                Err(_) => println!("{}\\t{}\\terror", number, id),
            }
        }
    }
    let item = bpf_features::lookup("", "bpf_map_lookup_percpu_elem").unwrap();
    if let Ok(xdp) = bpf_features::lookup("", "xdp") {
        eprintln!("{} {} {}", item, bpf_features::ITEMS[xdp].name, bpf_features::gpl_only(item));
    }
}
"""


def answers(tmp_path, rust_file, kernels):
    shutil.copy(rust_file, tmp_path / "bpf_features.rs")
    (tmp_path / "main.rs").write_text(MAIN)
    subprocess.run(["rustc", "--edition", "2021", "-D", "warnings", "-O", str(tmp_path / "main.rs"), "-o",
                    str(tmp_path / "check")], check=True, capture_output=True)
    done = subprocess.run([str(tmp_path / "check"), str(kernels_file(tmp_path / "kernels", kernels))],
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines(), done.stderr


def test_mainline_answers_as_python(tmp_path, user_db):
    names = compared_on_mainline(tmp_path, "rust", tmp_path / "out.rs", answers)
    assert names.split() == ["195", "BPF_PROG_TYPE_XDP", "0"]


def test_a_distribution_tree_answers_as_python(tmp_path):
    lines = compared_on_ubuntu(tmp_path, "rust", tmp_path / "out.rs", answers)
    # 5.14.0-1-generic is older than the tree: an error for each of its four helpers and three commands
    assert sum(line.endswith("\terror") for line in lines) == 4 + 3
