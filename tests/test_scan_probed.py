"""A probed build (`--tree BUILD`) decides what a program type may call: a refusal there is an error, where the
documented mainline lists only warn."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli
from kb.store import database
from kb.vocab import rules
from kb.vocab.facts import CALLABLE_FROM, PROBED, Facts, Item, Relation, Release, Source
from kb.vocab.kinds import HELPER, MAP_TYPE, PROG_TYPE, TREE_BUILD
from kb.vocab.releases import BUILD_SCHEME

BPF = Path(__file__).parent / "bpf"
KPROBE, SCHED_CLS = 2, 3
SKB_LOAD_BYTES, GET_CURRENT_TASK, PROBE_READ_KERNEL = 26, 35, 113


@pytest.fixture
def probed_db(tmp_path):
    """A build that probed two program types: kprobes may call get_current_task and probe_read_kernel,
    classifiers skb_load_bytes."""
    release = Release("6.1.0-13-amd64", rules.key_text(rules.kernel_key("6.1.0-13-amd64")), "6.1")
    facts = Facts("probed-6.1", TREE_BUILD, Source("live:testhost", "a probe", revision="6.1.0-13-amd64"), "live",
                  BUILD_SCHEME, qualifier=PROBED, releases=[release], covers=(PROG_TYPE, MAP_TYPE))
    facts.items = [Item(PROG_TYPE, KPROBE, "BPF_PROG_TYPE_KPROBE", release.version),
                   Item(PROG_TYPE, SCHED_CLS, "BPF_PROG_TYPE_SCHED_CLS", release.version)]
    facts.relations = [Relation(HELPER, GET_CURRENT_TASK, CALLABLE_FROM, PROG_TYPE, KPROBE),
                       Relation(HELPER, PROBE_READ_KERNEL, CALLABLE_FROM, PROG_TYPE, KPROBE),
                       Relation(HELPER, SKB_LOAD_BYTES, CALLABLE_FROM, PROG_TYPE, SCHED_CLS)]
    path = tmp_path / "kb.db"
    database.record(str(path), [facts])
    return path


def scan(db, name, *args):
    result = CliRunner().invoke(cli, ["scan", str(BPF / f"{name}.bpf.o"), "--tree", "probed-6.1", "--db", str(db),
                                      "--format", "json", *args], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)["objects"][0]


def test_a_call_the_probed_build_refuses_is_an_error(probed_db):
    status, obj = scan(probed_db, "context")
    assert status == 1
    (refused,) = [f for f in obj["findings"] if f["kind"] == "context"]
    assert (refused["id"], refused["status"], refused["rule"], refused["source"]["line"]) == (
        SKB_LOAD_BYTES, "refused", "callable_from probed on probed-6.1", 10)
    assert "skb_load_bytes is not callable from BPF_PROG_TYPE_KPROBE programs (probed on probed-6.1" in \
        refused["reason"]


def test_a_call_the_probed_build_accepts_is_no_finding(probed_db):
    status, obj = scan(probed_db, "probe_read")
    assert status == 0
    assert [f for f in obj["findings"] if f["kind"] == "context"] == []
    # The build lists no helper items, only what each program type accepts: mainline's facts date the helper.
    (call,) = [f for f in obj["findings"] if f["kind"] == "helper"]
    assert (call["status"], call["first_release"]) == ("ok", "5.5")


def test_a_program_type_the_build_lacks(probed_db):
    status, obj = scan(probed_db, "fentry")
    assert status == 1
    (prog,) = [f for f in obj["findings"] if f["kind"] == "prog_type"]
    assert (prog["name"], prog["status"]) == ("BPF_PROG_TYPE_TRACING", "absent")  # it does not load them
    assert prog["reason"].endswith("(the probed build probed-6.1 does not have it)")


def test_without_the_build_the_same_call_only_warns(user_db):
    result = CliRunner().invoke(cli, ["scan", str(BPF / "context.bpf.o"), "--kernel", "6.1", "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    (warning,) = [f for f in json.loads(result.stdout)["objects"][0]["findings"] if f["kind"] == "context"]
    assert warning["status"] == "undocumented"
