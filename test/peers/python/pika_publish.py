"""Publishes messages to a RabbitMQ queue with pika, the Python AMQP 0-9-1
client: an AMQP encoder nobody here wrote, for the AMQP source's tests.

Usage: pika_publish.py AMQP_URL QUEUE < messages.jsonl

One JSON object per line: {"body": text, "content_type": ..., "headers": {...},
"content_encoding": ..., "compress": "gzip" | "deflate" | "raw-deflate"} (the body
compressed by Python's gzip or zlib before it is sent).
Header values are JSON, with typed values written as one-key objects:
{"$datetime": "2026-01-02T03:04:05"} (AMQP timestamp), {"$decimal": "-0.001"}
(AMQP decimal), {"$bytes": base64} (byte array), {"$int": "1099511627776"}
(a 64-bit integer). JSON null is AMQP void.

A line {"cloudevent": attributes, "data": ..., "mode": "binary" | "structured"}
is encoded by the CloudEvents Python SDK's RabbitMQ protocol binding instead
(cloudevents.core.bindings.rabbitmq, the JSON event format); its `time`, if
any, is an ISO 8601 text. Publisher confirms are on: the script exits 0 once
the broker confirmed every message.
"""

import base64
import datetime
import decimal
import gzip
import json
import sys
import zlib

import pika
from cloudevents.core.bindings import rabbitmq
from sdk_encode import sdk_encoded


def typed(value):
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "$datetime":
                return datetime.datetime.fromisoformat(inner)
            if key == "$decimal":
                return decimal.Decimal(inner)
            if key == "$bytes":
                return base64.b64decode(inner)
            if key == "$int":
                return int(inner)
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return value


# Python's own compressors, for bodies published with a content_encoding.
COMPRESSORS = {"gzip": gzip.compress, "deflate": zlib.compress, "raw-deflate": lambda b: zlib.compress(b, wbits=-15)}


def sdk_message(message):
    """body, content type and headers of a CloudEvent as the SDK's RabbitMQ binding writes it."""
    encoded = sdk_encoded(rabbitmq, message["cloudevent"], message.get("data"), message.get("mode"))
    return encoded.body, encoded.content_type, encoded.headers or None


def main():
    url, queue = sys.argv[1], sys.argv[2]
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    count = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        if "cloudevent" in message:
            body, content_type, headers = sdk_message(message)
        else:
            body = message.get("body", "").encode("utf-8")
            content_type = message.get("content_type")
            headers = typed(message.get("headers")) if message.get("headers") is not None else None
        compress = message.get("compress")
        if compress is not None:
            body = COMPRESSORS[compress](body)
        properties = pika.BasicProperties(
            content_type=content_type,
            content_encoding=message.get("content_encoding"),
            headers=headers,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        channel.basic_publish("", queue, body, properties, mandatory=True)
        count += 1
    connection.close()
    print(f"published {count}")


if __name__ == "__main__":
    main()
