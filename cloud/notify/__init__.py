"""Work-order events out of the service: signed webhooks, Grafana annotations and InfluxDB
events and metrics. See `cloud.notify.notifier` for how they are read and delivered."""
