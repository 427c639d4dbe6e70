"""Equipment simulators: behavioural models of elevators, pumps, fire panels and lighting
controllers, served over Modbus TCP and MQTT, with fault injection over HTTP.

`plantroom sim` runs `simulators.runner.run`; tests use `simulators.runner.Simulation`.
"""
