"""A leased site's subscription: that site's topics only, plainly, under the site's client id."""

from __future__ import annotations

from cloud.cluster.evaluation import site_client_id
from cloud.receiver import topic_filters


def test_a_site_subscribes_plainly_to_its_own_topics() -> None:
    assert topic_filters("rules-x", "north") == [
        "plantroom/v1/north/+/+/+/telemetry",
        "plantroom/v1/north/+/+/+/status",
        "plantroom/v1/north/edge/+/health",
    ]
    # alone (no lease), every site's, telemetry shared in the group when one is set
    assert topic_filters("rules-x", None)[0] == "$share/rules-x/plantroom/v1/+/+/+/+/telemetry"
    assert topic_filters("", None)[0] == "plantroom/v1/+/+/+/+/telemetry"


def test_every_process_uses_the_same_client_id_for_a_site() -> None:
    assert site_client_id(None, "north") == "plantroom-cloud-site-north"
    assert site_client_id("hq-cloud", "north") == "hq-cloud-site-north"
