"""The REST API under /api. Routes are thin: parse, authorise, call a service function."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api import alarms, auth, equipment, health, system_alarms, workorders

router = APIRouter(prefix="/api")
router.include_router(health.router)
router.include_router(auth.router)
router.include_router(equipment.router)
router.include_router(alarms.router)
router.include_router(workorders.router)
router.include_router(system_alarms.router)
