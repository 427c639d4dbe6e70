"""Key performance indicators of the work orders.

- `figures`: the indicators as pure functions of plain job and equipment facts;
- `load`: the one place that loads those facts from the database (`compute`), shared by
  `GET /api/kpis`, the InfluxDB metrics and the monthly report so that their figures always
  agree.

The definitions, with worked examples, are in docs/kpis.md. Both modules' names are
importable from here (`from cloud import kpi`, then `kpi.compute`, `kpi.Job`, …).
"""

from cloud.kpi.figures import (
    DEFINITIONS,
    DISPATCH_S,
    FIRE_KINDS,
    LIGHTING_KINDS,
    LIVE,
    REPAIRS,
    Counts,
    DeskFacts,
    Equip,
    Figure,
    Indicator,
    Job,
    Report,
    acknowledged_in_time,
    complaint_rate,
    counts,
    dispatched_in_time,
    evaluate,
    follow_up_rate,
    good_order,
    in_maintenance,
    mean_time_to_acknowledge,
    mean_time_to_repair,
    month_bounds,
    pm_compliance,
    repeat_fault_rate,
    satisfaction,
    sla_compliance,
)
from cloud.kpi.load import (
    Buildings,
    compute,
    job_of,
    load_desk,
    load_equipment,
    load_jobs,
    load_live,
    load_open_repairs,
    load_pm,
    of_buildings,
)

__all__ = [
    "DEFINITIONS",
    "DISPATCH_S",
    "FIRE_KINDS",
    "LIGHTING_KINDS",
    "LIVE",
    "REPAIRS",
    "Buildings",
    "Counts",
    "DeskFacts",
    "Equip",
    "Figure",
    "Indicator",
    "Job",
    "Report",
    "acknowledged_in_time",
    "complaint_rate",
    "compute",
    "counts",
    "dispatched_in_time",
    "evaluate",
    "follow_up_rate",
    "good_order",
    "in_maintenance",
    "job_of",
    "load_desk",
    "load_equipment",
    "load_jobs",
    "load_live",
    "load_open_repairs",
    "load_pm",
    "mean_time_to_acknowledge",
    "mean_time_to_repair",
    "month_bounds",
    "of_buildings",
    "pm_compliance",
    "repeat_fault_rate",
    "satisfaction",
    "sla_compliance",
]
