"""The fair-share allocator on plain views of the leases: three sites, two or three processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.cluster.allocator import fair_share, plan, unwatched
from cloud.cluster.leases import ClusterView, Lease

NOW = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=10)
GONE = NOW - timedelta(seconds=1)
SITES = ("north", "south", "west")


def view(holders: dict[str, tuple[str | None, datetime]], members: tuple[str, ...]) -> ClusterView:
    leases = []
    for site in SITES:
        holder, expires_at = holders.get(site, (None, GONE))
        leases.append(Lease(site, holder, 1, expires_at))
    return ClusterView(now=NOW, leases=tuple(leases), members=tuple(sorted(members)))


def apply(
    holders: dict[str, tuple[str | None, datetime]], me: str, members: tuple[str, ...]
) -> None:
    """One round of `me`: what it acquires it holds until LATER, what it releases is free."""
    held = {s for s, (h, exp) in holders.items() if h == me and exp > NOW}
    todo = plan(view(holders, members), me, held=held, serves=SITES)
    for site in todo.release:
        holders[site] = (None, NOW)
    for site in todo.acquire:
        holders[site] = (me, LATER)


def counts(holders: dict[str, tuple[str | None, datetime]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for holder, expires in holders.values():
        if holder is not None and expires > NOW:
            found[holder] = found.get(holder, 0) + 1
    return found


def test_fair_share_is_the_ceiling() -> None:
    assert [fair_share(3, n) for n in (1, 2, 3, 4)] == [3, 2, 1, 1]
    assert fair_share(3, 0) == 3  # no live process seen yet: this one counts itself


def test_two_processes_split_three_sites_two_and_one() -> None:
    holders: dict[str, tuple[str | None, datetime]] = {}
    members = ("a", "b")
    for _ in range(3):
        apply(holders, "a", members)
        apply(holders, "b", members)
    assert counts(holders) == {"a": 2, "b": 1}
    assert {holders[s][0] for s in SITES} == {"a", "b"}


def test_a_process_alone_takes_all_then_gives_one_back_when_another_joins() -> None:
    holders: dict[str, tuple[str | None, datetime]] = {}
    apply(holders, "a", ("a",))
    assert counts(holders) == {"a": 3}
    # b joins: a sees it is over its share while b holds nothing, and gives up one site
    for _ in range(3):
        apply(holders, "b", ("a", "b"))
        apply(holders, "a", ("a", "b"))
    assert counts(holders) == {"a": 2, "b": 1}
    # and stays put: a third round moves nothing
    before = dict(holders)
    apply(holders, "a", ("a", "b"))
    apply(holders, "b", ("a", "b"))
    assert holders == before


def test_the_survivor_takes_the_dead_process_sites_once_their_leases_expire() -> None:
    holders: dict[str, tuple[str | None, datetime]] = {
        "north": ("a", LATER),
        "south": ("a", LATER),
        "west": ("b", LATER),
    }
    # a died: not a member any more, but its leases have not expired yet: b waits
    apply(holders, "b", ("b",))
    assert counts(holders) == {"a": 2, "b": 1}
    # its leases expired
    holders["north"] = ("a", GONE)
    holders["south"] = ("a", GONE)
    apply(holders, "b", ("b",))
    assert counts(holders) == {"b": 3}


def test_a_process_takes_only_the_sites_it_serves() -> None:
    todo = plan(view({}, ("a",)), "a", held=set(), serves={"west"})
    assert todo.acquire == ("west",)


def test_over_share_with_no_one_under_it_keeps_what_it_holds() -> None:
    holders: dict[str, tuple[str | None, datetime]] = {
        "north": ("a", LATER),
        "south": ("a", LATER),
        "west": ("b", LATER),
    }
    # three processes, share 1: a holds 2, b holds 1, c holds 0: a gives one up for c
    todo = plan(view(holders, ("a", "b", "c")), "a", held={"north", "south"}, serves=SITES)
    assert todo.release == ("south",) and not todo.acquire
    # c is gone again: share 2, a keeps both
    todo = plan(view(holders, ("a", "b")), "a", held={"north", "south"}, serves=SITES)
    assert todo.release == () and todo.acquire == ()


def test_unwatched_sites_are_those_free_for_longer_than_the_ttl() -> None:
    ttl = timedelta(seconds=15)
    holders: dict[str, tuple[str | None, datetime]] = {
        "north": ("a", LATER),  # held
        "south": (None, NOW - timedelta(seconds=5)),  # released a moment ago
        "west": ("b", NOW - timedelta(seconds=16)),  # expired over the ttl ago
    }
    assert unwatched(view(holders, ("a",)), ttl) == ["west"]


def test_a_lease_still_naming_me_that_i_stopped_working_under_is_taken_again() -> None:
    # my work stopped when the lease ran out on my clock (database unreachable), but the
    # database's clock still has it mine: take it again at once rather than wait for it
    holders: dict[str, tuple[str | None, datetime]] = {"north": ("a", LATER)}
    todo = plan(view(holders, ("a",)), "a", held=set(), serves=SITES)
    assert todo.acquire == SITES
