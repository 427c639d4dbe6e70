#!/bin/sh
# Build the broker's password file from the environment, hash it in place with
# mosquitto_passwd (no password on a command line), then run the broker.
set -eu
umask 077
file=/mosquitto/data/passwd
: > "$file"
for user in edge-tower-a edge-tower-b edge-annex gateway cloud simulator admin; do
    var="MQTT_PASSWORD_$(echo "$user" | tr 'a-z-' 'A-Z_')"
    eval "password=\${$var:-}"
    if [ -z "$password" ]; then
        echo "entrypoint: $var is not set" >&2
        exit 1
    fi
    printf '%s:%s\n' "$user" "$password" >> "$file"
done
mosquitto_passwd -U "$file"
chown mosquitto:mosquitto "$file"
exec /usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf
