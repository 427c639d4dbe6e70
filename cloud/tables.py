"""Every table of the cloud database in one `metadata`: importing this module loads each
domain's model. The migrations compare against it, and opening a `cloud.db.Database` imports
it, so that a relationship naming another domain's class always finds it."""

from __future__ import annotations

from cloud import equipment, siting
from cloud.alarms import model as alarms
from cloud.cluster import model as cluster
from cloud.incidents import model as incidents
from cloud.maintenance import model as maintenance
from cloud.notify import model as notify
from cloud.oncall import model as oncall
from cloud.orm import Base
from cloud.requests import model as requests
from cloud.users import model as users
from cloud.workorders import model as workorders

metadata = Base.metadata
assert siting  # new records are given their site as they are inserted
MODELS = (
    equipment,
    users,
    alarms,
    incidents,
    workorders,
    notify,
    oncall,
    requests,
    maintenance,
    cluster,
)
