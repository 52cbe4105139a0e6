"""Produces records with librdkafka (the confluent-kafka Python client), a
Kafka client nobody here wrote, for the Kafka source's tests: its own record
batches, compression codecs, idempotent producer ids and sequences, and
transaction markers.

Usage: rdkafka_produce.py BOOTSTRAP TOPIC [CONFIG=VALUE ...] < records.jsonl

CONFIG=VALUE pairs are librdkafka producer settings (compression.type=zstd,
transactional.id=..., linger.ms=...). One JSON object per line:
  {"value": text | null, "key": text | null, "headers": [[name, text | {"hex": bytes in hex} | null], ...]}
  {"tx": "begin" | "commit" | "abort"}   (with transactional.id set)
The script flushes at the end and exits 1 if any record was not delivered.
"""

import json
import sys

from confluent_kafka import Producer


def header_bytes(value):
    """A header value as bytes: text as UTF-8, {"hex": ...} as those bytes, None as no value."""
    if value is None:
        return None
    if isinstance(value, dict):
        return bytes.fromhex(value["hex"])
    return value.encode()


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    config = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 50}
    for pair in sys.argv[3:]:
        name, _, value = pair.partition("=")
        config[name] = value
    producer = Producer(config)
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(str(err))

    if "transactional.id" in config:
        producer.init_transactions(30)
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        tx = record.get("tx")
        if tx == "begin":
            producer.begin_transaction()
        elif tx == "commit":
            producer.commit_transaction(30)
        elif tx == "abort":
            # Flushed first, so the aborted records are in the log, marked aborted.
            producer.flush(30)
            producer.abort_transaction(30)
        else:
            value = record.get("value")
            key = record.get("key")
            headers = [(name, header_bytes(v)) for name, v in record.get("headers", [])]
            producer.produce(
                topic,
                value=None if value is None else value.encode(),
                key=None if key is None else key.encode(),
                headers=headers or None,
                on_delivery=delivered,
            )
            producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failures:
        print(f"{remaining} not delivered; errors: {failures[:5]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
