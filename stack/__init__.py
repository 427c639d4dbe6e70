"""The composition root: the `plantroom` command line, `plantroom demo` and the local service
manager that starts mosquitto, influxd and PostgreSQL. It may import every package; no process
package imports it."""
