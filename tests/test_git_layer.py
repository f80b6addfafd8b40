"""The git layer (collectors/git.py): the cat-file processes gitpython starts read each distinct blob once, refuses a
blob too large to hold, and serves a forked worker as well as the process that opened it; the questions every
fingerprint asks are started early, and no git process outlives a run."""

import multiprocessing
import os
import subprocess
from concurrent.futures import ProcessPoolExecutor

import pytest
from conftest import BASE, mine
from gitfixture import HEADER, History
from headers import make_header

import collectors.git as layer
from collectors.git import CollectError, Repository


def blob_at(history, commit: str) -> str | None:
    found = subprocess.run(["git", "-C", history.path, "rev-parse", "-q", "--verify", f"{commit}:{HEADER}"],
                           capture_output=True, text=True, check=False)
    return found.stdout.strip() or None


def test_each_distinct_blob_is_read_once(history, monkeypatch):
    asked = []
    real = Repository._asked

    def asked_of(self, option, requests):
        if option == "--batch":
            asked.extend(requests)
        return real(self, option, requests)

    monkeypatch.setattr(Repository, "_asked", asked_of)
    mine(history.path, tree="mainline")
    assert len(asked) == len(set(asked))
    assert set(asked) == {blob_at(history, c) for c in history.commits.values()} - {None}


def test_tags_revisions_and_blobs(history):
    repository = Repository(history.path)
    tags = {t.name: t for t in repository.tags()}
    assert {"v4.0", "v4.1", "v4.1-rc1", "v4.2", "v4.9", "v4.10", "not-a-release"} == set(tags)
    assert tags["v4.1"].commit == history.commits["c4"]  # lightweight
    assert tags["v4.0"].commit == history.commits["c1"]  # annotated: the commit it names, not the tag object
    assert tags["v4.9"].date.startswith("2021-06-01T00:00:00")
    revisions = repository.revisions([history.commits["c10"]], HEADER)
    order = [r.commit for r in revisions]
    assert order.index(history.commits["c1"]) < order.index(history.commits["c2"]) < order.index(history.commits["c10"])
    assert history.commits["c0"] not in order  # it did not touch the header
    blobs = repository.blob_ids([history.commits["c0"], history.commits["c1"], history.commits["c8"]], HEADER)
    assert blobs[history.commits["c0"]] is None and blobs[history.commits["c8"]] is None
    [(blob, content)] = list(repository.read_blobs([blobs[history.commits["c1"]]] * 3))
    assert blob == blobs[history.commits["c1"]] == blob_at(history, history.commits["c1"])
    assert content == subprocess.run(["git", "-C", history.path, "cat-file", "blob", blob], capture_output=True,
                                     check=True).stdout


def test_a_blob_too_large_to_hold_is_refused_before_it_is_read(tmp_path, monkeypatch):
    h = History(tmp_path / "linux")
    h.commit("c1", make_header(BASE))
    h.tag("v6.0")
    blob = h.repo.git.rev_parse(f"HEAD:{HEADER}")
    monkeypatch.setattr(layer, "MAX_BLOB_SIZE", 1000)
    with pytest.raises(CollectError) as caught:
        mine(h.path)
    size = os.path.getsize(os.path.join(h.path, HEADER))
    assert str(caught.value) == (f"{h.path}: blob {blob} holds {size} bytes, more than the 1000 a collector reads")
    repository = Repository(h.path)  # asked without its size known first: drained, refused, the next answer right
    with pytest.raises(CollectError, match="more than the 1000"):
        list(repository.read_blobs([blob]))
    monkeypatch.setattr(layer, "MAX_BLOB_SIZE", size)
    assert next(iter(repository.read_blobs([blob])))[1].startswith(b"/*")


def _read(repository: Repository, blob: str) -> tuple[int, bytes]:
    return os.getpid(), next(repository.read_blobs([blob]))[1]


def test_a_repository_opened_here_reads_in_a_forked_worker(history):
    repository = Repository(history.path)
    commits = [history.commits["c1"], history.commits["c9"]]
    blobs = repository.blob_ids(commits, HEADER)  # the persistent cat-file runs here now
    first, second = (blobs[c] for c in commits)
    here = next(repository.read_blobs([first]))[1]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        pid, there = pool.submit(_read, repository, second).result()
    assert pid != os.getpid()
    assert there == subprocess.run(["git", "-C", history.path, "cat-file", "blob", second], capture_output=True,
                                   check=True).stdout
    assert next(repository.read_blobs([first]))[1] == here  # this process's cat-file still answers in step
    repository.close()


@pytest.fixture
def started(monkeypatch):
    """Every git process a Repository starts, in order."""
    processes = []
    real = Repository._popen

    def recorded(self, command):
        processes.append(real(self, command))
        return processes[-1]

    monkeypatch.setattr(Repository, "_popen", recorded)
    return processes


def test_the_early_questions_answer_the_fingerprint(history, started):
    """What a revision is and what the tags are are asked when the repository is opened, and the answers are taken
    from those processes, not asked again."""
    head = subprocess.run(["git", "-C", history.path, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    repository = Repository(history.path, rev="HEAD")
    assert len(started) == 3  # where the git directory is, what HEAD is, the tags
    assert repository.resolve("HEAD") == head
    assert {"v4.0", "v4.1", "v4.2", "not-a-release"} <= {t.name for t in repository.tags()}
    assert len(started) == 3  # answered by the processes started early
    repository.close()
    assert all(p.returncode is not None for p in started)  # the git directory's too, though nobody asked it
    assert repository.resolve("v4.0") == history.commits["c1"]  # a revision nobody asked for early is asked now
    assert len(started) == 4


def test_a_path_that_is_no_repository_is_refused_by_the_first_question(tmp_path, started):
    repository = Repository(str(tmp_path), rev="HEAD")
    with pytest.raises(CollectError, match=f"^{tmp_path}: not a git repository$"):
        repository.resolve("HEAD")
    repository.close()
    assert all(p.returncode is not None for p in started)


def test_a_run_that_ends_early_leaves_no_git_process(history, tmp_path, started):
    """A revision that does not exist ends the run before anything is read: the early questions go with it."""
    from kb import api

    with pytest.raises(CollectError, match="revision 'nope' does not exist"):
        api.collect(history.path, db=str(tmp_path / "kb.db"), rev="nope")
    assert started and all(p.returncode is not None for p in started)
    with pytest.raises(CollectError, match="not a git repository"):
        api.collect(str(tmp_path), db=str(tmp_path / "kb.db"))
    assert all(p.returncode is not None for p in started)


def test_a_history_listing_nobody_read_ends_with_the_repository(history, started):
    repository = Repository(history.path)
    repository.start_revisions([history.commits["c10"]], HEADER)
    repository.close()
    assert len(started) == 2 and all(p.returncode is not None for p in started)
    assert [r.commit for r in repository.revisions([history.commits["c10"]], HEADER)][-1] == history.commits["c10"]


def test_a_repository_travels_with_its_git_directory_found(history):
    repository = Repository(history.path, rev="HEAD")
    state = repository.__getstate__()
    git_dir = subprocess.run(["git", "-C", history.path, "rev-parse", "--absolute-git-dir"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert state["_git_dir"] == git_dir and git_dir.endswith(".git")
    assert state["_git_dir_process"] is None and state["_early"] == {}
    repository.close()
