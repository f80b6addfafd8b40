"""The JSON table: the same data for any other language."""

from __future__ import annotations

import json

from kb.outputs.generators.model import TABLE_KINDS, TableModel, release_name


def _name(key: tuple | None) -> str | None:
    return release_name(key) if key else None


def render(model: TableModel) -> str:
    document = {
        "tree": model.tree,
        "scheme": model.scheme,
        "data_version": model.data_version,
        "sources": [{"id": sid, "description": desc} for sid, desc in model.sources],
        "releases": [{"version": version, "key": list(key)} for version, key, _uname in model.releases],
    }
    for kind in TABLE_KINDS:
        document[kind] = [
            {"id": e.value, "name": e.name, "names": list(e.names), "first_release": e.first_release,
             "removed_in": e.removed_in, "windows": [{"since": s, "until": u} for s, u in e.windows],
             # Where first_release is not established: the release whose builds lack it, the one whose build has it.
             "first_release_after": _name(e.arrival[0]) if e.arrival else None,
             "first_release_by": _name(e.arrival[1]) if e.arrival else None}
            for e in model.kinds[kind]
        ]
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
