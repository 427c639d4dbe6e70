"""The cloud service: equipment registry, fault rules, alarms, work orders and the REST API."""
