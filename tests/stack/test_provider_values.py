"""Every enum-like or range-bound argument the program passes is one the provider accepts.

Mocks accept any value; the clouds do not. ``docs/provider-values.md`` records what each
provider accepts and where that was read (resource schema and validation at a tag, or the API
reference); these tests hold the inputs the real program registers, for dev and prod, to it.
"""

from __future__ import annotations

import functools

import pytest

from offline.runner import run_offline
from tests import provider_values as pv
from tests.harness import STACKS, plan_for

ROWS = pv.rows()
CLOUD_PROVIDERS = ("aws:", "alicloud:")


# The committed stacks, and prod with the optional settings switched the other way, so values
# only a non-default config registers are held to the table too.
VARIANT = (
    "prod",
    {
        "railyard:alibabaVpnPaymentType": "Subscription",
        "railyard:eksApiClientCidrs": ["10.70.0.0/20"],
        "railyard:alibabaOidcFingerprints": ["0123456789abcdef0123456789abcdef01234567"],
        "railyard:pwaSpaFallback": False,
    },
)


@functools.cache
def _plans() -> list:
    return [*(plan_for(stack) for stack in STACKS), run_offline(*VARIANT)]


def _values(row: pv.Row):
    for plan in _plans():
        for resource in plan.of_type(row.type_token):
            if row.applies_to(resource.inputs):
                for value in row.values(resource.inputs):
                    yield plan.stack, resource.name, value


def test_the_table_is_read():
    assert len(ROWS) >= 40
    assert all(r.source for r in ROWS), [r.line for r in ROWS if not r.source]


@pytest.mark.parametrize(
    "row", ROWS, ids=lambda r: f"L{r.line}-{r.type_token.split(':')[-1]}.{r.path}"
)
def test_registered_values_are_accepted_by_the_provider(row: pv.Row):
    seen = list(_values(row))
    # a row no resource matches is stale or names a wrong path: either way it checks nothing
    assert seen, (
        f"docs/provider-values.md:{row.line}: no registered {row.type_token} has {row.path}"
    )
    refused = [(stack, name, value) for stack, name, value in seen if not row.accepts(value)]
    assert not refused, (
        f"docs/provider-values.md:{row.line}: accepted {row.accepted}; got {refused}"
    )


def test_every_cloud_resource_type_is_in_the_table():
    registered = {
        r.type
        for plan in _plans()
        for r in plan.resources
        if r.custom and r.type.startswith(CLOUD_PROVIDERS)
    }
    listed = {
        t
        for t in {r.type_token for r in ROWS} | pv.unconstrained_types()
        if t.startswith(CLOUD_PROVIDERS)
    }
    assert registered - listed == set(), "add these types to docs/provider-values.md"
    assert listed - registered == set(), "no longer registered: drop them from the table"


# --- the table's own grammar --------------------------------------------------------------------
def _row(accepted: str, path: str = "a", where=None) -> pv.Row:
    return pv.Row(1, "t", where, path, accepted, "src")


def test_lists_ranges_and_patterns():
    assert _row("`optional`, `required`").accepts("required")
    assert not _row("`optional`, `required`").accepts("enforced")
    assert _row("`1` to `99999999`").accepts("1") and _row("`1` to `99999999`").accepts(99999999)
    assert not _row("`1` to `99999999`").accepts("0")
    assert not _row("`1` to `99999999`").accepts("1e3")
    assert _row("matches `^\\d{5}$`").accepts(64512) and not _row("matches `^\\d{5}$`").accepts(7)
    assert _row("`true`").accepts(True) and not _row("`true`").accepts(False)


def test_paths_descend_select_and_spread():
    inputs = {
        "functionName": "f",
        "functionArgs": [{"argName": "ttl", "argValue": "0"}, {"argName": "x", "argValue": "1"}],
        "specs": [{"ike": {"v": "ikev2"}}, {"ike": {"v": "ikev1"}}],
        "algs": ["AES256", "AES128"],
    }
    assert list(_row("", "functionArgs[argName=ttl].argValue").values(inputs)) == ["0"]
    assert list(_row("", "specs[].ike.v").values(inputs)) == ["ikev2", "ikev1"]
    assert list(_row("", "algs").values(inputs)) == ["AES256", "AES128"]
    assert list(_row("", "missing.path").values(inputs)) == []
    entries = {"entries": {"a": {"type": "EC2"}, "b": {"type": "STANDARD"}}}
    assert sorted(_row("", "entries.*.type").values(entries)) == ["EC2", "STANDARD"]
    pool = {"req": [{"key": "karpenter.sh/capacity-type", "values": ["spot"]}]}
    assert list(_row("", "req[key=karpenter.sh/capacity-type].values").values(pool)) == ["spot"]
    assert _row("`1` to `10`").accepts(10.0) and not _row("`1` to `10`").accepts(10.5)
    assert _row("", where=("functionName", "f")).applies_to(inputs)
    assert not _row("", where=("functionName", "g")).applies_to(inputs)
