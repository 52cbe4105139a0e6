"""Sends messages over AMQP 1.0 with Qpid Proton (python-qpid-proton), an
AMQP 1.0 client nobody here wrote, for the AMQP source's tests: a producer
on the other protocol RabbitMQ speaks, as Qpid JMS, .NET and Azure clients are.

Usage: proton_send.py HOST:PORT ADDRESS < messages.jsonl

One JSON object per line:
  {"section": "data" | "value" | "sequence", "body": ..., "content_type": ...,
   "properties": {...}}
A "data" body is text, sent as one data section of its UTF-8 bytes; a "value"
body is one amqp-value section; a "sequence" body is a list, one amqp-sequence
section. "properties" are the application properties. Values are JSON, with
AMQP types written as one-key objects: {"$ulong": "18446744073709551615"},
{"$long": "-9007199254740993"}, {"$uint": 7}, {"$ubyte": 255}, {"$short": -2},
{"$float": 1.5}, {"$timestamp": ms}, {"$uuid": text}, {"$binary": base64},
{"$symbol": text}, {"$char": text}, {"$decimal64": hex}, {"$decimal128": hex},
{"$described": [descriptor symbol, value]}. Every message is sent settled by
the broker (the link waits for each disposition); the script exits 0 once all
were accepted.
"""

import base64
import json
import sys
import uuid

from proton import (
    Described,
    Message,
    char,
    decimal64,
    decimal128,
    float32,
    short,
    symbol,
    timestamp,
    ubyte,
    uint,
    ulong,
)
from proton.utils import BlockingConnection

TYPES = {
    "$ulong": lambda v: ulong(int(v)),
    "$long": lambda v: int(v),
    "$uint": uint,
    "$ubyte": ubyte,
    "$short": short,
    "$float": float32,
    "$timestamp": timestamp,
    "$uuid": uuid.UUID,
    "$binary": base64.b64decode,
    "$symbol": symbol,
    "$char": char,
    "$decimal64": lambda v: decimal64(int(v, 16)),
    "$decimal128": bytes.fromhex,
    "$described": lambda v: Described(symbol(v[0]), typed(v[1])),
}


def typed(value):
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in TYPES:
                if key == "$decimal128":
                    return decimal128(TYPES[key](inner))
                return TYPES[key](inner)
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return value


def message(line):
    section = line.get("section", "data")
    body = line.get("body")
    kwargs = {"content_type": line.get("content_type"), "durable": True}
    properties = {k: typed(v) for k, v in line.get("properties", {}).items()}
    if properties:
        kwargs["properties"] = properties
    if section == "data":
        return Message(body=body.encode("utf-8"), inferred=True, **kwargs)
    if section == "sequence":
        return Message(body=typed(body), inferred=True, **kwargs)
    return Message(body=typed(body), inferred=False, **kwargs)


def main():
    host, address = sys.argv[1], sys.argv[2]
    lines = [json.loads(line) for line in sys.stdin if line.strip()]
    connection = BlockingConnection(host, user="guest", password="guest", allowed_mechs="PLAIN")
    try:
        sender = connection.create_sender(address)
        for line in lines:
            sender.send(message(line))
    finally:
        connection.close()


if __name__ == "__main__":
    main()
