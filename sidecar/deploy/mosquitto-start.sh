#!/bin/sh
# Entrypoint wrapper of the compose mosquitto service. Mosquitto 2.0.16 and
# later warn about password and ACL files that are world-readable or not owned
# by the user the broker runs as (mosquitto), and say future versions will
# refuse them; a bind mount keeps the host's owner and mode. So the files are
# mounted under $SRC and copied here to $DEST, owner mosquitto, mode 0600,
# before the image's own entrypoint starts the broker.
set -eu
SRC="${MOSQUITTO_DEPLOY_DIR:-/mosquitto/deploy}"
DEST="${MOSQUITTO_CONFIG_DIR:-/mosquitto/config}"
OWNER="${MOSQUITTO_FILE_OWNER:-mosquitto:mosquitto}"
for f in passwd acl; do
  if [ ! -s "$SRC/$f" ]; then
    echo "mosquitto-start: $SRC/$f is missing or empty (mount sidecar/deploy/mosquitto.$f there)" >&2
    exit 1
  fi
  cp "$SRC/$f" "$DEST/$f.tmp"
  chown "$OWNER" "$DEST/$f.tmp"
  chmod 0600 "$DEST/$f.tmp"
  mv "$DEST/$f.tmp" "$DEST/$f"
done
if [ "$#" -eq 0 ]; then exit 0; fi
exec "${MOSQUITTO_ENTRYPOINT:-/docker-entrypoint.sh}" "$@"
