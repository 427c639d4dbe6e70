"""The ingest gateway: MQTT telemetry → batched line protocol → InfluxDB.

`gateway.service.run(settings)` runs it as a process; `gateway.service.Gateway(settings)` is the
same thing as an async context manager.
"""
