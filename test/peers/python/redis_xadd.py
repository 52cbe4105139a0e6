"""Adds entries to a Redis stream with redis-py, Python's Redis client: a Redis
encoder nobody here wrote, for the Redis source's tests.

Usage: redis_xadd.py URL STREAM < entries.jsonl
       redis_xadd.py redis+sentinel://HOST:PORT/NAME STREAM < entries.jsonl

The second form asks the sentinel for the primary named NAME (redis-py's
Sentinel.master_for) and adds there. One JSON object per line:
  {"fields": [[name, text | {"hex": bytes in hex}], ...]}
written by one XADD (the fields in that order, as redis-py sends a dict). The
script prints each entry's id, one per line, and exits 0 once every XADD was
answered.
"""

import json
import sys
from urllib.parse import unquote, urlsplit

import redis
from redis.sentinel import Sentinel


def as_bytes(value):
    """A field name or value as bytes: text as UTF-8, {"hex": ...} as those bytes."""
    if isinstance(value, dict):
        return bytes.fromhex(value["hex"])
    return value.encode()


def client(url):
    if url.startswith("redis+sentinel://"):
        parts = urlsplit(url)
        host, _, port = parts.netloc.rpartition(":")
        sentinel = Sentinel([(host, int(port))], socket_timeout=5)
        return sentinel.master_for(unquote(parts.path.strip("/")), socket_timeout=5)
    return redis.Redis.from_url(url)


def main():
    url, stream = sys.argv[1], sys.argv[2]
    connection = client(url)
    for line in sys.stdin:
        if not line.strip():
            continue
        entry = json.loads(line)
        fields = {as_bytes(name): as_bytes(value) for name, value in entry["fields"]}
        print(connection.xadd(stream, fields).decode(), flush=True)


if __name__ == "__main__":
    main()
