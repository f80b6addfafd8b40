"""No request can break the site: every bad parameter answers 400 or 405 in one short line (never 500, never
exception text), results and values are bounded before anything is rendered, every response carries the
security headers.  Through Datasette's own client."""

import sys

import pytest
from datasette_site import datasette_for, get, published


@pytest.fixture(scope="module")
def site(shared):
    return datasette_for(published(shared, "shipped-site"))


def post(ds, path):
    import asyncio

    return asyncio.run(ds.client.post(path, data={"a": "b"}))


BAD = [
    ("/kb/helpers?_sort=nope", 400, "_sort: no column named 'nope'"),
    ("/kb/helpers?_sort=(select 1)", 400, "_sort: no column named '(select 1)'"),
    ("/kb/helpers.json?_sort_desc=nope", 400, "_sort_desc: no column named 'nope'"),
    ("/kb/helpers?_where=1; delete from helpers", 400, "_where: one condition, no ';'"),
    ("/kb/helpers?_where=nope", 400, "no such column: nope"),
    ("/kb/helpers?_through=notjson", 400, "_through: not JSON"),
    ("/kb/helpers?_through={}", 400, "_through: expected"),
    ("/kb/helpers?_facet=%00", 400, "a NUL character in parameter '_facet'"),
    ("/kb/helpers?_facet=nope", 400, "_facet: no column named 'nope'"),
    ("/kb/helpers?id=99999999999999999999999999", 400, "too large a number"),
    ("/kb/helpers.json?id__gt=-99999999999999999999999999", 400, "too large a number"),
    ("/kb/helpers?nope=1", 400, "no column named 'nope' to filter on"),
    ("/kb/helpers.json?_size=banana", 400, "_size: a number from 1 to 1000, or max"),
    ("/kb/check?kernel=%00&items=195", 400, "a NUL character in parameter 'kernel'"),
    ("/kb/check?kernel=%ff", 400, "the query string is not UTF-8"),
    # Python 3.10's sqlite3 cannot set SQLite's length limit: kb.site.guard bounds zeroblob() itself, and SQLite
    # reports the refusal of a Python function in its own words.
    ("/kb.json?sql=select zeroblob(1000000000)", 400,
     "string or blob too big" if sys.version_info >= (3, 11) else "user-defined function raised exception"),
    ("/kb.json?sql=select * from nope", 400, "no such table: nope"),
    (("/kb.json?sql=with recursive c(x) as (select 1 union all select x%2B1 from c where x<100)"
     " select printf('%25.*c', 900000, 'x') from c"), 400, "the result is larger than 8 MB"),
]


@pytest.mark.parametrize("path, status, message", BAD)
def test_bad_parameters_answer_briefly(site, path, status, message):
    response = get(site, path)
    assert response.status_code == status, (path, response.text[:300])
    assert message in response.text
    assert "Traceback" not in response.text and "File \"" not in response.text
    if "sql=" not in path:  # a query page repeats the SQL asked; every other answer is one short line
        assert len(response.text) < 400, response.text


@pytest.mark.parametrize("path", ["/kb/check", "/kb/helpers.json", "/kb/helpers", "/kb.json", "/"])
def test_writes_are_not_allowed(site, path):
    response = post(site, path)
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert "read-only" in response.text


def test_the_server_still_answers_after_a_refusal(site):
    assert get(site, "/kb.json?sql=select zeroblob(1000000000)").status_code == 400
    assert get(site, "/kb.json?sql=select randomblob(1000001)").status_code == 400
    response = get(site, "/kb/helpers.json?_shape=array&id=195")
    assert response.status_code == 200 and response.json()[0]["first_release"] == "5.19"


@pytest.mark.parametrize("path", ["/", "/kb/helpers", "/kb/helpers.json", "/kb/helpers?_sort=nope", "/kb/nope"])
def test_security_headers(site, path):
    headers = get(site, path).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_good_parameters_pass(site):
    for path in ("/kb/helpers?_sort=first_release", "/kb/helpers.json?_sort_desc=first_release&_size=max",
                 "/kb/helpers?_facet=gpl_only", "/kb/helpers?id__gt=100", "/kb/helpers?first_release__gte=5.10",
                 "/kb/helpers?_where=id>100", "/kb/helpers?_col=name&_col=first_release", "/kb/helpers?_search=",
                 "/kb.json?sql=select randomblob(1000)"):
        assert get(site, path).status_code == 200, path

