"""Which sites this process should take or give up: a pure function of the cluster's view.

Each live process aims at its fair share, `ceil(sites / live processes)`. It takes free or
expired leases (of the sites it can serve) up to that share, in site order; holding more than
its share while another live process holds less, it gives one up per round, which that one
then takes. So two processes split three sites 2/1, a process joining takes its share from
the others within a few rounds, and when one dies the survivors' share grows and they take its
sites as the leases expire. A site no one has held for longer than the lease's lifetime is
"unwatched": the service raises a system alarm about it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from cloud.cluster.leases import ClusterView


@dataclass(frozen=True, slots=True)
class Plan:
    acquire: tuple[str, ...] = ()
    release: tuple[str, ...] = ()
    share: int = 0


def fair_share(sites: int, processes: int) -> int:
    return math.ceil(sites / max(1, processes))


def plan(view: ClusterView, me: str, *, held: Collection[str], serves: Collection[str]) -> Plan:
    """What `me`, holding `held` and able to serve `serves`, should acquire and release."""
    members = set(view.members) | {me}
    share = fair_share(len(view.leases), len(members))
    now = view.now
    if len(held) > share:
        holdings = Counter(
            lease.holder for lease in view.leases if lease.holder in members and lease.held(now)
        )
        if any(holdings[m] < share for m in members if m != me):
            return Plan(release=(max(held),), share=share)
        return Plan(share=share)
    room = share - len(held)
    free = [  # a lease still naming me that I no longer work under (lost on my clock) too
        lease.site
        for lease in view.leases
        if lease.site in serves
        and lease.site not in held
        and (not lease.held(now) or lease.holder == me)
    ]
    return Plan(acquire=tuple(sorted(free)[:room]), share=share)


def unwatched(view: ClusterView, ttl: timedelta) -> list[str]:
    """The sites no one has held for longer than `ttl`."""
    return sorted(
        lease.site
        for lease in view.leases
        if not lease.held(view.now) and lease.expires_at < view.now - ttl
    )
