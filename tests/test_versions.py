import pytest

from kb.versions import Version, VersionError


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


def test_distribution_suffix_is_not_compared():
    assert Version.parse("5.15.0-91-generic") == Version.parse("5.15")
    assert str(Version.parse("5.15.0-91-generic")) == "5.15.0-91-generic"
    assert Version.parse("5.15.0-91-generic").short() == "5.15"


@pytest.mark.parametrize("text", ["", "five", "5", "linux-5.15", "5.x"])
def test_not_a_version(text):
    with pytest.raises(VersionError, match="not a version"):
        Version.parse(text)
