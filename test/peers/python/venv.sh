#!/usr/bin/env bash
# Creates (or brings up to date) .venv-peers/, the git-ignored virtual
# environment of the Python protocol peers (pymodbus's Modbus server,
# python-snap7's S7 server, cpppo's EtherNet/IP simulator, asyncua's OPC UA
# server, pika and the CloudEvents SDK as AMQP publishers, Qpid Proton as an
# AMQP 1.0 producer, built from source with python3-dev, and librdkafka
# (confluent-kafka) as a Kafka producer, Eclipse Paho as an MQTT publisher, redis-py as
# a Redis Streams producer, and
# hypothesis with jsonschema for test/contract/python) from test/peers/python/requirements.txt.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../../.."
VENV=.venv-peers
REQ=test/peers/python/requirements.txt
stamp="$VENV/.peers-requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
/usr/bin/python3 -m venv --clear "$VENV" || {
  echo "cannot create $VENV: install Debian's python3-venv (apt-get install python3-venv)" >&2
  exit 1
}
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$want" >"$stamp"
echo "protocol peers installed in $VENV"
