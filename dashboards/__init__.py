"""Grafana dashboards as code: generator, generated JSON, provisioning and upload."""
