"""Behavioural models, one module per kind of equipment."""

from __future__ import annotations

from plantroom.kinds import Kind
from simulators.models.base import DeviceModel, ModelContext
from simulators.models.elevator import ElevatorModel
from simulators.models.fire_panel import FirePanelModel
from simulators.models.lighting import LightingModel
from simulators.models.pump import PumpModel

MODELS: dict[Kind, type[DeviceModel]] = {
    Kind.ELEVATOR: ElevatorModel,
    Kind.PUMP: PumpModel,
    Kind.FIRE_PANEL: FirePanelModel,
    Kind.LIGHTING: LightingModel,
}


def create_model(kind: Kind, ctx: ModelContext) -> DeviceModel:
    return MODELS[kind](ctx)


__all__ = ["MODELS", "DeviceModel", "ModelContext", "create_model"]
