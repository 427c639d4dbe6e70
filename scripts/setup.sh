#!/usr/bin/env bash
# One set-up step for `make demo` and `make test`: a virtualenv with Plantroom and its dev
# extras, plus the servers Plantroom runs against (mosquitto, influxd) from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
need_pkgs=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need_pkgs+=(influxdb)
for extra in ${PLANTROOM_EXTRA_PACKAGES:-}; do
  dpkg -s "$extra" >/dev/null 2>&1 || need_pkgs+=("$extra")
done

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "plantroom setup: missing ${need_pkgs[*]} and apt-get is not available on this machine." >&2
    echo "Install them with your package manager, or run the whole stack with: docker compose up" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "plantroom setup: need root to install ${need_pkgs[*]} (no sudo found)." >&2
      echo "Install them as root, or run the whole stack with: docker compose up" >&2
      exit 1
    fi
  fi
  echo "plantroom setup: installing ${need_pkgs[*]} from Debian's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

stamp=.venv/.plantroom-installed
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
