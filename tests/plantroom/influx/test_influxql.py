"""InfluxQL quoting, one rule for the gateway, the cloud's console and the dashboards."""

from __future__ import annotations

import pytest

from dashboards import influxql
from plantroom.influx.influxql import quote_ident, quote_string


def test_quote_ident_escapes_quotes_and_backslashes() -> None:
    assert quote_ident('a "b" \\ c') == '"a \\"b\\" \\\\ c"'


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ("c:\\temp", "'c:\\\\temp'"),
        ('say "hi"', "'say \"hi\"'"),  # a double quote needs nothing inside single quotes
        ("", "''"),
    ],
)
def test_quote_string_escapes_single_quotes_and_backslashes(value: str, quoted: str) -> None:
    assert quote_string(value) == quoted


def test_the_dashboards_quote_with_the_contract() -> None:
    assert influxql.ident is quote_ident
    assert influxql.string is quote_string
    assert influxql.tag_var("floor") == '"floor" =~ /^$floor$/'
