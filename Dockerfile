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
COPY deploy/sites ./deploy/sites
# The data folders exist, owned by the process user, before named volumes are mounted on
# them (a new volume takes the folder's owner), so the processes never run as root.
RUN pip install --no-cache-dir . && useradd --system --home /app plantroom \
    && mkdir -p /var/lib/plantroom/edge /var/lib/plantroom/gateway /var/lib/plantroom/cloud \
    && chown -R plantroom /var/lib/plantroom
USER plantroom
ENTRYPOINT ["plantroom"]
