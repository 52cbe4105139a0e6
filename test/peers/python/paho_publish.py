"""Publishes MQTT messages with Eclipse Paho (paho-mqtt), an MQTT client
nobody here wrote, for the MQTT source's tests: its own packet encoder,
MQTT 5 properties and QoS 2 flow.

Usage: paho_publish.py HOST PORT 5|4 < messages.jsonl

One JSON object per line:
  {"topic": ..., "payload": text, "qos": 0|1|2, "retain": false,
   "content_type": ..., "user_properties": [[name, value], ...],
   "payload_format_indicator": 0|1}
(properties only with MQTT 5). The script waits until every message is
acknowledged by the broker (PUBACK, or PUBCOMP for QoS 2), then disconnects.
"""

import json
import sys

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def main():
    host, port, version = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    protocol = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sfb-paho-peer", protocol=protocol)
    client.connect(host, port)
    client.loop_start()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            message = json.loads(line)
            properties = None
            if protocol == mqtt.MQTTv5:
                properties = Properties(PacketTypes.PUBLISH)
                if "content_type" in message:
                    properties.ContentType = message["content_type"]
                if "payload_format_indicator" in message:
                    properties.PayloadFormatIndicator = message["payload_format_indicator"]
                if message.get("user_properties"):
                    properties.UserProperty = [tuple(pair) for pair in message["user_properties"]]
            info = client.publish(
                message["topic"],
                message["payload"].encode("utf-8"),
                qos=message.get("qos", 1),
                retain=message.get("retain", False),
                properties=properties,
            )
            info.wait_for_publish(30)
            if not info.is_published():
                print(f"not acknowledged: {message['topic']}", file=sys.stderr)
                sys.exit(1)
    finally:
        client.disconnect()
        client.loop_stop()


if __name__ == "__main__":
    main()
