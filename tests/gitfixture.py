"""Build small kernel-like git histories with gitpython, dates and tags under the test's control."""

from __future__ import annotations

import os

import git

HEADER = "include/uapi/linux/bpf.h"


class History:
    def __init__(self, path, bare_copy: bool = False):
        self.path = str(path)
        self.repo = git.Repo.init(self.path, initial_branch="master")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Test Author")
            config.set_value("user", "email", "author@example.org")
            config.set_value("commit", "gpgsign", "false")
            config.set_value("tag", "gpgsign", "false")
        self.day = 0
        self.commits: dict[str, str] = {}

    def _env(self, date: str | None):
        self.day += 1
        stamp = date or f"2020-01-{self.day:02d}T12:00:00+00:00"
        return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}

    def commit(self, label: str, header: str | None, message: str | None = None, *, date=None,
               other_file: bool = False, files: dict[str, str] | None = None) -> str:
        """Commit *header* as bpf.h (None deletes it) and any other *files*; returns the sha, under *label*."""
        full = os.path.join(self.path, HEADER)
        if header is None:
            if os.path.exists(full):
                self.repo.git.rm("-q", HEADER)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as handle:
                handle.write(header)
            self.repo.git.add(HEADER)
        for name, text in (files or {}).items():
            os.makedirs(os.path.dirname(os.path.join(self.path, name)) or self.path, exist_ok=True)
            with open(os.path.join(self.path, name), "w") as handle:
                handle.write(text)
            self.repo.git.add(name)
        if other_file:
            with open(os.path.join(self.path, "README"), "a") as handle:
                handle.write(label + "\n")
            self.repo.git.add("README")
        self.repo.git.commit("-q", "--allow-empty", "-m", message or label, env=self._env(date))
        sha = self.repo.head.commit.hexsha
        self.commits[label] = sha
        return sha

    def tag(self, name: str, target: str = "HEAD", *, annotated: bool = True, date: str | None = None):
        if annotated:
            self.repo.git.tag("-a", name, target, "-m", f"Linux {name}", env=self._env(date))
        else:
            self.repo.git.tag(name, target)

    def branch(self, name: str, start: str = "HEAD"):
        self.repo.git.checkout("-q", "-b", name, start)

    def checkout(self, name: str):
        self.repo.git.checkout("-q", name)

    def merge(self, branch: str, label: str, message: str):
        self.repo.git.merge("-q", "--no-ff", "--no-edit", "-m", message, branch, env=self._env(None))
        self.commits[label] = self.repo.head.commit.hexsha
        return self.commits[label]
