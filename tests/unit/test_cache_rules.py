import pytest

from railyard import cache_rules as cr

RULES = cr.pwa_cache_rules(["/assets/*", "/static/*"])
DEFAULT = cr.default_rule(300)


@pytest.mark.parametrize("path", cr.ENTRYPOINTS)
def test_entrypoints_are_no_cache_and_never_kept_at_the_edge(path):
    rule = cr.rule_for(path, RULES, DEFAULT)
    assert rule.cache_control == "no-cache"
    assert cr.cloudfront_ttls(rule) == (0, 0, 0)


@pytest.mark.parametrize("path", ["/assets/app.3f9a1c.js", "/static/css/main.77aa.css"])
def test_hashed_assets_are_immutable_for_a_year(path):
    rule = cr.rule_for(path, RULES, DEFAULT)
    assert rule.cache_control == "public, max-age=31536000, immutable"
    assert cr.cloudfront_ttls(rule) == (31536000,) * 3


def test_other_files_get_the_short_default():
    assert cr.cache_control_for("/favicon.ico", RULES, DEFAULT) == "public, max-age=300"
    assert cr.cloudfront_ttls(DEFAULT) == (0, 300, 300)


def test_alibaba_functions_mirror_the_rules():
    functions = dict((args["path"], args) for _, args in cr.alibaba_ttl_functions(RULES))
    # TTL 0 has no spelling (the API takes 1-99999999): the origin's no-cache wins, every
    # request revalidates, and no-cache is never ignored (swift_no_cache_low=on would)
    assert functions["/sw.js"]["ttl"] == "1"
    assert functions["/sw.js"]["swift_origin_cache_high"] == "on"
    assert functions["/sw.js"]["force_revalidate"] == "on"
    assert {f["swift_no_cache_low"] for f in functions.values()} == {"off"}
    assert functions["/assets/"]["force_revalidate"] == "off"
    assert functions["/assets/"]["ttl"] == "31536000"
    assert int(functions["/sw.js"]["weight"]) > int(functions["/assets/"]["weight"])
    assert {name for name, _ in cr.alibaba_ttl_functions(RULES)} == {"path_based_ttl_set"}


@pytest.mark.parametrize(
    ("pattern", "why"),
    [("/*", "covers"), ("assets/*", "folder prefix"), ("/assets/*.js", "folder prefix")],
)
def test_unusable_hashed_patterns(pattern, why):
    assert why in cr.pattern_problem(pattern)


def test_usable_hashed_pattern():
    assert cr.pattern_problem("/assets/*") is None
