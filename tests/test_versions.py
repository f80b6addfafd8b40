"""One parser for every version string, and the release schemes of distribution trees."""

import pytest

from kb.vocab import rules
from kb.vocab.releases import ReleaseSchemeError, TagPattern, parse_tag
from kb.vocab.versions import Version, VersionError


@pytest.mark.parametrize(
    "text, release, suffix",
    [
        ("5.15", (5, 15, 0), ""),
        ("5.15.0-91-generic", (5, 15, 0), "-91-generic"),
        ("6.1.0-13-amd64", (6, 1, 0), "-13-amd64"),
        ("5.14.0-427.13.1.el9_4.x86_64", (5, 14, 0), "-427.13.1.el9_4.x86_64"),
        ("v5.19", (5, 19, 0), ""),
        ("0.8.0", (0, 8, 0), ""),
        ("6.6.30", (6, 6, 30), ""),
    ],
)
def test_parse(text, release, suffix):
    v = Version.parse(text)
    assert (v.major, v.minor, v.patch) == release
    assert v.suffix == suffix
    assert not v.is_rc


def test_numeric_order_and_rc_below_release():
    texts = ["5.10", "5.9", "v5.19-rc3", "5.19", "5.19-rc1", "4.20", "6.1.0-13-amd64", "5.19.1"]
    ordered = sorted(texts, key=Version.parse)
    assert ordered == ["4.20", "5.9", "5.10", "5.19-rc1", "v5.19-rc3", "5.19", "5.19.1", "6.1.0-13-amd64"]
    assert Version.parse("v5.19-rc3").rc == 3
    assert Version.parse("5.9").sort_key < Version.parse("5.10").sort_key


def test_distribution_numbers_order_but_the_base_is_mainline():
    assert Version.parse("5.14.0-427.el9") != Version.parse("5.14.0-284.el9")
    assert Version.parse("5.14.0-284.el9") < Version.parse("5.14.0-427.el9")
    assert Version.parse("5.15.0-91-generic").base == Version.parse("5.15")
    assert str(Version.parse("5.15.0-91-generic")) == "5.15.0-91-generic"
    assert Version.parse("5.15.0-91-generic").short() == "5.15"


@pytest.mark.parametrize("text", ["", "five", "5", "linux-5.15", "5.x"])
def test_not_a_version(text):
    with pytest.raises(VersionError, match="not a kernel version"):
        Version.parse(text)


@pytest.mark.parametrize("tag, scheme, version, key, flavour", [
    ("v5.19", "mainline", "5.19", (5, 19, 0, 999), None),
    ("v5.19-rc3", "mainline", "5.19-rc3", (5, 19, 0, 3), None),
    ("v6.1.12", "mainline", "6.1.12", (6, 1, 12, 999), None),
    ("v0.8.0", "mainline", "0.8.0", (0, 8, 0, 999), None),
    ("Ubuntu-5.15.0-91.101", "ubuntu", "5.15.0-91.101", (5, 15, 0, 999, 91, 101), None),
    ("Ubuntu-hwe-5.15-5.15.0-91.101~20.04.1", "ubuntu", "5.15.0-91.101~20.04.1", (5, 15, 0, 999, 91, 101),
     "hwe-5.15"),
    ("Ubuntu-azure-5.15.0-1052.60", "ubuntu", "5.15.0-1052.60", (5, 15, 0, 999, 1052, 60), "azure"),
    ("kernel-5.14.0-427.el9", "rhel", "5.14.0-427.el9", (5, 14, 0, 999, 427), None),
    ("kernel-5.14.0-427.13.1.el9_4", "rhel", "5.14.0-427.13.1.el9_4", (5, 14, 0, 999, 427, 13, 1), None),
    ("debian/6.1.76-1", "debian", "6.1.76-1", (6, 1, 76, 999, 1), None),
    ("debian/6.8_rc7-1_exp1", "debian", "6.8~rc7-1_exp1", (6, 8, 0, 7, 1), None),
    ("v5.14.0-427.el9", "suffixed", "5.14.0-427.el9", (5, 14, 0, 999, 427), None),
    ("v6.1.0-13-amd64", "suffixed", "6.1.0-13-amd64", (6, 1, 0, 999, 13), None),
])
def test_release_schemes(tag, scheme, version, key, flavour):
    release = parse_tag(tag)
    assert (release.scheme, release.version, release.key, release.flavour) == (scheme, version, key, flavour)
    # A release's name in its tree has the same key as its tag: the one rule judges both.
    assert rules.kernel_key(release.version) == key


@pytest.mark.parametrize("tag", ["v2.6.11-tree", "linux-5.15", "Ubuntu-5.15.0", "kernel-5.14.0", "not-a-release"])
def test_not_release_tags(tag):
    assert parse_tag(tag) is None


def test_tag_pattern_teaches_another_scheme():
    pattern = TagPattern(r"rel-(?P<major>\d+)\.(?P<minor>\d+)-b(?P<build>\d+)")
    release = pattern.parse("rel-5.10-b7")
    assert (release.version, release.key, str(release.base)) == ("5.10-b7", (5, 10, 0, 999, 7), "5.10")
    assert pattern.parse("v5.10") is None
    with pytest.raises(ReleaseSchemeError, match="needs the named groups major and minor"):
        TagPattern(r"(?P<major>\d+)")
    with pytest.raises(ReleaseSchemeError, match="not a regular expression"):
        TagPattern(r"(?P<major>")


def test_running_kernels_resolve_to_a_release_of_their_tree():
    ubuntu = [(rules.kernel_key(v),) for v in ("5.15.0-25.25", "5.15.0-91.101", "5.15.0-91.102", "5.15.0-100.110")]
    # Same X.Y.Z and ABI: the first upload with it.
    assert rules.resolve(rules.kernel_key("5.15.0-91-generic"), ubuntu) == 1
    assert rules.resolve(rules.kernel_key("5.15.0-100-generic"), ubuntu) == 3
    # Between releases: the newest one before it.
    assert rules.resolve(rules.kernel_key("5.15.0-95-generic"), ubuntu) == 2
    assert rules.resolve(rules.kernel_key("5.4.0-1-generic"), ubuntu) is None
    rhel = [(rules.kernel_key(v),) for v in ("5.14.0-284.el9", "5.14.0-427.el9", "5.14.0-427.13.1.el9_4")]
    assert rules.resolve(rules.kernel_key("5.14.0-427.13.1.el9_4.x86_64"), rhel) == 2
    assert rules.resolve(rules.kernel_key("5.14.0-427.el9.x86_64"), rhel) == 1
    # Debian's builds report their ABI (6.1.0-13-amd64), which the packaging names per release.
    debian = [(rules.kernel_key("6.1.76-1"), rules.kernel_key("6.1.0-18")),
              (rules.kernel_key("6.1.90-1"), rules.kernel_key("6.1.0-21"))]
    assert rules.resolve(rules.kernel_key("6.1.0-21-amd64"), debian) == 1


def test_windows_and_the_rc_rule():
    key = rules.kernel_key
    windows = [(key("6.17"), key("6.18")), (key("7.0"), None)]
    assert [rules.in_windows(key(k, exact=False), windows) for k in ("6.16", "6.17", "6.18", "6.19", "7.0")] == [
        False, True, False, False, True]
    removed = [(key("6.1"), key("6.16"))]
    assert rules.in_windows(key("6.15.9"), removed)
    assert not rules.in_windows(key("6.16-rc1"), removed)  # an rc kernel is its final release
    arrived = [(key("5.19"), None)]
    assert rules.in_windows(key("5.19-rc1"), arrived)
    # Where the tree recorded the item's first rc, that decides for rc kernels of its release.
    assert not rules.in_windows(key("5.19-rc1"), arrived, first_rc=key("5.19-rc3"))
    assert rules.in_windows(key("5.19-rc3"), arrived, first_rc=key("5.19-rc3"))


def test_debian_kernels_with_an_abi_the_tree_does_not_name():
    debian = [(rules.kernel_key("6.0.12-1"), None),
              (rules.kernel_key("6.1.76-1"), rules.kernel_key("6.1.0-18")),
              (rules.kernel_key("6.1.85-1"), rules.kernel_key("6.1.0-20")),
              (rules.kernel_key("6.1.90-1"), rules.kernel_key("6.1.0-21"))]
    # A newer ABI than any release: the newest release; one between two: the release before it.
    assert rules.resolve(rules.kernel_key("6.1.0-22-amd64"), debian) == 3
    assert rules.resolve(rules.kernel_key("6.1.0-19-amd64"), debian) == 1
    assert rules.resolve(rules.kernel_key("6.1.0-20-amd64"), debian) == 2
    # A package version between two releases.
    assert rules.resolve(rules.kernel_key("6.1.80-1"), debian) == 1


def test_an_rc_decides_only_within_the_release_the_item_arrived_in():
    key = rules.kernel_key
    # In 6.7-rc1, reverted before 6.7, back in 6.8 (collected with --rc: the first rc of 6.8 that has it).
    windows = [(key("6.8"), None)]
    assert rules.verdict(key("6.7-rc2"), windows, first_rc=key("6.8-rc1")) == ("not_yet", 0)
    assert rules.verdict(key("6.8-rc1"), windows, first_rc=key("6.8-rc1")) == ("available", 0)
    assert rules.verdict(key("6.8-rc1"), windows, first_rc=key("6.8-rc3")) == ("not_yet", 0)
    gone = [(key("6.1"), key("6.16"))]
    assert rules.verdict(key("6.16-rc1"), gone) == ("removed", 0)
