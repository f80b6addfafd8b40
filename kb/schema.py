"""The store's tables, declared in one place.

Designed to be browsed as it is in Datasette: plain names, one row per fact, foreign keys that Datasette
turns into links, and sort keys beside version strings so that 5.10 sorts after 5.9.
"""

SCHEMA_VERSION = 1

TABLES = """
CREATE TABLE IF NOT EXISTS kb_meta (
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,            -- "git:linux@0123456789ab:include/uapi/linux/bpf.h", "reference:mainline-helpers.tsv"
    kind TEXT NOT NULL,             -- git, reference, header, build
    description TEXT,
    repo TEXT,
    path TEXT,
    revision TEXT                   -- commit or tag the facts were read at
);
CREATE TABLE IF NOT EXISTS trees (
    name TEXT PRIMARY KEY,          -- mainline, stable-6.1, rhel-9, libbpf, ...
    kind TEXT NOT NULL,             -- git, reference, build
    description TEXT,
    repo TEXT,
    path TEXT,
    tag_pattern TEXT,
    head_commit TEXT,
    fingerprint TEXT,               -- what the last collect depended on; equal means nothing new
    source TEXT REFERENCES sources(id)
);
CREATE TABLE IF NOT EXISTS releases (
    tree TEXT NOT NULL REFERENCES trees(name),
    version TEXT NOT NULL,
    sort_key INTEGER NOT NULL,
    tag TEXT,
    "commit" TEXT,
    date TEXT,
    has_header INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tree, version)
);
CREATE TABLE IF NOT EXISTS items (
    tree TEXT NOT NULL REFERENCES trees(name),
    kind TEXT NOT NULL,             -- helper, prog_type, map_type, attach_type, link_type, cmd, kfunc
    value,                          -- the enum value (integer); a kfunc's name
    name TEXT NOT NULL,             -- the name in use today
    first_release TEXT,             -- NULL: in no release yet, or not known
    first_release_key INTEGER,
    first_rc TEXT,
    introduced_by TEXT,             -- full sha of the commit that added it
    subject TEXT,
    author TEXT,
    date TEXT,
    alt_commit TEXT,                -- the commit another reference gives, where they disagree
    note TEXT,
    present_at_head INTEGER NOT NULL DEFAULT 1,
    source TEXT REFERENCES sources(id),
    PRIMARY KEY (tree, kind, value)
);
CREATE TABLE IF NOT EXISTS item_names (
    tree TEXT NOT NULL,
    kind TEXT NOT NULL,
    value,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,      -- 0 for the first name the item had, then in the order they appeared
    first_seen_commit TEXT,
    first_release TEXT,
    is_alias INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tree, kind, value, name),
    FOREIGN KEY (tree, kind, value) REFERENCES items(tree, kind, value)
);
CREATE TABLE IF NOT EXISTS presence (
    tree TEXT NOT NULL,
    kind TEXT NOT NULL,
    value,
    release TEXT NOT NULL,
    PRIMARY KEY (tree, kind, value, release),
    FOREIGN KEY (tree, kind, value) REFERENCES items(tree, kind, value),
    FOREIGN KEY (tree, release) REFERENCES releases(tree, version)
);
CREATE TABLE IF NOT EXISTS helper_docs (
    tree TEXT NOT NULL,
    value INTEGER NOT NULL,
    variant INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    signature TEXT,
    description TEXT,
    returns TEXT,
    attributes TEXT,
    source TEXT REFERENCES sources(id),
    PRIMARY KEY (tree, value, variant)
);
CREATE TABLE IF NOT EXISTS disagreements (
    tree TEXT NOT NULL,
    kind TEXT NOT NULL,
    value,
    field TEXT NOT NULL,            -- first_release or introduced_by
    used TEXT,                      -- the value the tables use
    used_source TEXT,
    other TEXT,
    other_source TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS items_by_name ON items(name);
CREATE INDEX IF NOT EXISTS items_by_release ON items(tree, kind, first_release_key);
CREATE INDEX IF NOT EXISTS item_names_by_name ON item_names(name);
CREATE INDEX IF NOT EXISTS presence_by_release ON presence(tree, release);
CREATE INDEX IF NOT EXISTS disagreements_by_item ON disagreements(tree, kind, value);
"""

# Tables whose rows belong to one tree; re-collecting a tree replaces exactly these rows.
TREE_TABLES = ("disagreements", "helper_docs", "presence", "item_names", "items", "releases")
