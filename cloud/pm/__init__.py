"""Preventive maintenance: plans per kind of equipment (shipped defaults from the service
standards, editable in YAML), falling due by calendar, by use from telemetry counters, or by
whichever comes first, raised as PM work orders with their checklists."""

from cloud.pm.loader import load_plans
from cloud.pm.model import EffectivePlan, Plan
from cloud.pm.scheduler import PmScheduler

__all__ = ["EffectivePlan", "Plan", "PmScheduler", "load_plans"]
