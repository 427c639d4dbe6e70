"""Service levels of work orders.

- `policy`: the targets by priority, the dispatch commitment, the escalation stages and the
  indicators' targets, loaded from `sla.yaml` (configuration, not code);
- `clocks`: a job's three clocks (acknowledge, on site, complete) and which escalation
  stages fall due (pure);
- `escalator`: the SLA ticker that dispatches new jobs, escalates overdue ones and closes
  verified fixes.

The policy is what the rest of the service reads, so it is importable from here.
"""

from cloud.sla.policy import SHIPPED, Due, SlaPolicy, Stage, Target, Targets, load_sla

__all__ = ["SHIPPED", "Due", "SlaPolicy", "Stage", "Target", "Targets", "load_sla"]
