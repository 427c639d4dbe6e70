"""Prints the register maps and fault lists as the Markdown tables in simulators/README.md.

    python -m simulators.docs

tests/simulators/test_register_maps.py checks that the README carries exactly these tables.
"""

from __future__ import annotations

from simulators.devices import transport_faults
from simulators.faults import TCP_GATEWAY_FAULTS, FaultSpec, ParamSpec
from simulators.models import MODELS
from simulators.registers import markdown_table


def register_tables() -> dict[str, str]:
    """Profile name → Markdown table, for every kind served over Modbus."""
    return {
        model.register_map.name: markdown_table(model.register_map)
        for model in MODELS.values()
        if model.register_map is not None
    }


def _param(p: ParamSpec) -> str:
    low = "" if p.minimum is None else f"{p.minimum:g}"
    high = "" if p.maximum is None else f"{p.maximum:g}"
    default = "" if p.default is None else f", default {p.default}"
    return f"`{p.name}` {low}..{high}{default}: {p.description}"


def fault_table(faults: tuple[FaultSpec, ...]) -> str:
    rows = ["| fault | parameters | signature |", "|---|---|---|"]
    for f in faults:
        params = "<br>".join(_param(p) for p in f.params)
        rows.append(f"| `{f.name}` | {params} | {f.signature} |")
    return "\n".join(rows)


def fault_tables() -> dict[str, str]:
    """Kind → Markdown table of its faults, the transport faults last."""
    return {
        kind.value: fault_table((*model.FAULTS, *transport_faults(kind)))
        for kind, model in MODELS.items()
    }


def gateway_fault_table() -> str:
    """The faults of a Modbus gateway (a TCP port; a serial line has `slow` only)."""
    return fault_table(TCP_GATEWAY_FAULTS)


def main() -> None:
    for name, table in register_tables().items():
        print(f"### `{name}`\n\n{table}\n")
    for kind, table in fault_tables().items():
        print(f"### {kind}\n\n{table}\n")
    print(f"### gateway\n\n{gateway_fault_table()}\n")


if __name__ == "__main__":
    main()
