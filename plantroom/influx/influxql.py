"""InfluxQL quoting: identifiers in double quotes, string literals in single quotes.

Inside either, a backslash and the quote character are escaped with a backslash; nothing else
needs escaping (InfluxQL reads a line break inside quotes as itself).
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes: a measurement, field, tag or database name."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    """An InfluxQL string literal in single quotes: a tag value compared with `=`."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
