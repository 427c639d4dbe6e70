"""The edge agent: polls equipment over Modbus and MQTT and publishes Plantroom telemetry.

Modules: `profile` (device profiles as data), `decode` (registers → values), `planner` (fewest
reads), `modbus` (one hub per physical connection), `mqtt_devices` (vendor JSON → points),
`buffer` (store-and-forward queue on disk), `publisher` (MQTT out), `agent` (the process).
"""
