# One image for every Plantroom process; the command picks the process.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY plantroom ./plantroom
COPY edge ./edge
COPY gateway ./gateway
COPY cloud ./cloud
COPY simulators ./simulators
COPY dashboards ./dashboards
COPY sites ./sites
RUN pip install --no-cache-dir . && useradd --system --home /app plantroom \
    && mkdir -p /var/lib/plantroom && chown plantroom /var/lib/plantroom
USER plantroom
ENTRYPOINT ["plantroom"]
