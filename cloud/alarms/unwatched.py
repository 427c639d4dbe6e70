"""The `site_unwatched` system alarm: no cloud process has held a site's lease for longer than
a lease lasts, so the site's rules are not evaluated.

The cluster's coordinator (`cloud.cluster.coordinator`) decides and writes it on subject
`site:<id>`; this module holds its code and its message, written from its details in the
reader's language, which the system alarms' API shows as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloud.locale import N_, RECORD, Text

UNWATCHED = "site_unwatched"  # the system alarm's code; its subject is `site:<id>`
# its message, written from its details in the reader's language (`message`)
UNWATCHED_TEXT = N_(
    "no cloud process has evaluated the rules of site {site} for over {ttl} s: its faults"
    " raise no alarms"
)


def message(details: Mapping[str, Any], text: Text = RECORD) -> str:
    """The `site_unwatched` alarm's message from its details, in `text`'s language."""
    return text._(UNWATCHED_TEXT).format(
        site=details["site"], ttl=text.figure(float(details["ttl_s"]))
    )
