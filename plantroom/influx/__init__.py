"""InfluxDB, once for every process: line protocol (`lineprotocol`, `parse`), InfluxQL quoting
(`influxql`), the `/write` + `/query` client (`writer`) and its errors (`errors`), and the
measurements the cloud writes besides telemetry (`measurements`)."""
