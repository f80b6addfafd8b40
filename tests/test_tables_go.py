"""`kbgen tables --lang go`: a Go package (standard library only) that compiles, passes go vet, and answers as the
Python module does on every helper and command, for mainline and a distribution tree, on twenty kernel strings."""

import functools
import os
import shutil
import subprocess

import pytest
from tablecompare import compared_on_mainline, compared_on_ubuntu, kernels_file

pytestmark = pytest.mark.skipif(not shutil.which("go"), reason="go not installed (.ci/run installs golang-go)")

MAIN = """package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"kbtest/bpffeatures"
)

func main() {
	file, _ := os.Open(os.Args[1])
	scanner := bufio.NewScanner(file)
	number := 0
	for scanner.Scan() {
		kernel := scanner.Text()
		for i, item := range bpffeatures.Items {
			if item.Kind != "helper" && item.Kind != "cmd" {
				continue
			}
			id := fmt.Sprint(item.Value)
			if item.Kind != "helper" {
				id = item.Kind + ":" + id
			}
			why, err := bpffeatures.Explain(i, kernel)
			if err != nil {
				fmt.Printf("%d\\t%s\\terror\\n", number, id)
				continue
			}
			fmt.Println(strings.Join([]string{fmt.Sprint(number), id, why.Status, why.Since,
				why.Until, why.Release, why.Approximate}, "\\t"))
		}
		number++
	}
	item, err := bpffeatures.Lookup("", "bpf_map_lookup_percpu_elem")
	if xdp, found := bpffeatures.Lookup("", "xdp"); found == nil {
		fmt.Fprintln(os.Stderr, item, err, bpffeatures.Items[xdp].Name, bpffeatures.GPLOnly(item))
	}
}
"""


@pytest.fixture(scope="module")
def gocache(tmp_path_factory):
    """One build cache for the file's programs: the standard library they import is compiled and vetted once."""
    return tmp_path_factory.mktemp("gocache")


def answers(tmp_path, go_file, kernels, gocache):
    project = tmp_path / "project"
    (project / "bpffeatures").mkdir(parents=True)
    shutil.copy(go_file, project / "bpffeatures" / "bpf_features.go")
    (project / "go.mod").write_text("module kbtest\n\ngo 1.19\n")
    (project / "main.go").write_text(MAIN)
    env = dict(os.environ, GOCACHE=str(gocache), GOPATH=str(tmp_path / "gopath"), GOTOOLCHAIN="local",
               GOFLAGS="-mod=mod", GO111MODULE="on", CGO_ENABLED="0")
    subprocess.run(["go", "vet", "./..."], cwd=project, env=env, check=True, capture_output=True)
    subprocess.run(["go", "build", "-o", "check", "."], cwd=project, env=env, check=True, capture_output=True)
    done = subprocess.run(["./check", str(kernels_file(tmp_path / "kernels", kernels))], cwd=project,
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines(), done.stderr


def test_mainline_answers_as_python(tmp_path, user_db, gocache):
    names = compared_on_mainline(tmp_path, "go", tmp_path / "bpf_features.go", functools.partial(answers, gocache=gocache))
    assert names.split() == ["195", "<nil>", "BPF_PROG_TYPE_XDP", "0"]


def test_a_distribution_tree_answers_as_python(tmp_path, gocache):
    lines = compared_on_ubuntu(tmp_path, "go", tmp_path / "bpf_features.go", functools.partial(answers, gocache=gocache))
    by_kernel = {line.split("\t")[0]: line for line in lines if line.split("\t")[1] == "195"}
    assert by_kernel["1"].split("\t")[2:6] == ["not_yet", "5.15.0-100.110", "", "5.15.0-91.101"]
    assert by_kernel["2"].split("\t")[2] == "available"
