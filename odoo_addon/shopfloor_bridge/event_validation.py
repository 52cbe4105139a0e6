"""Validation of incoming events, pure Python (no ORM).

One schema for both sides: ``schemas/cloudevent.schema.json`` (the sidecar
runs the same file through ajv). The size limits of DESIGN.md are checked here
on the serialized form, and ``time`` is parsed to the naive UTC datetime Odoo
stores. Every failure is an ``EventRejected`` whose message says what to fix.
"""

import json
import os
from datetime import datetime, timezone
from functools import lru_cache

import jsonschema

from .exceptions import EventRejected

MAX_EVENT_BYTES = 256 * 1024
MAX_STRING_CHARS = 4096
MAX_INGEST_BATCH = 1000

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "schemas", "cloudevent.schema.json")


@lru_cache(maxsize=1)
def schema():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def validator():
    """Built once per process: compiling the schema costs more than validating an event."""
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema())


EVENT_TYPES = tuple(schema()["properties"]["type"]["enum"])


def parse_time(value, field="time"):
    """RFC 3339 text → naive UTC datetime (Odoo's storage), or EventRejected."""
    if not isinstance(value, str) or not value:
        raise EventRejected(f"{field} must be an RFC 3339 date-time text, got {value!r}", field=field)
    text = value.strip()
    if "T" not in text and "t" not in text:
        raise EventRejected(f"{field} {value!r} is not an RFC 3339 date-time (no 'T')", field=field)
    # Python 3.11 reads 'Z' and offsets; RFC 3339 requires one of them.
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as error:
        raise EventRejected(f"{field} {value!r} is not an RFC 3339 date-time ({error})", field=field) from error
    if parsed.tzinfo is None:
        raise EventRejected(f"{field} {value!r} has no time zone (use Z or an offset such as +01:00)", field=field)
    return parsed.astimezone(timezone.utc).replace(tzinfo=None)


def _long_strings(value, path="$"):
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            yield path, len(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and len(key) > MAX_STRING_CHARS:
                yield f"{path} (a key)", len(key)
            yield from _long_strings(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _long_strings(item, f"{path}[{index}]")


def serialize(event):
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=repr)


def validate_event(event, serialized=None):
    """Checks one CloudEvent dict; returns (time, observed_time) as naive UTC datetimes.

    Raises EventRejected naming the first problem found.
    """
    if not isinstance(event, dict):
        raise EventRejected(f"an event must be a JSON object, got {type(event).__name__}")
    serialized = serialized if serialized is not None else serialize(event)
    size = len(serialized.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        raise EventRejected(f"event is {size} bytes serialized, over the {MAX_EVENT_BYTES}-byte limit", size=size)
    for path, length in _long_strings(event):
        raise EventRejected(f"string at {path} is {length} characters, over the {MAX_STRING_CHARS} limit")
    error = jsonschema.exceptions.best_match(validator().iter_errors(event))
    if error is not None:
        where = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        if error.validator == "enum" and list(error.absolute_path) == ["type"]:
            raise EventRejected(f"unknown event type {event.get('type')!r}; known types: {', '.join(EVENT_TYPES)}")
        raise EventRejected(f"schema: {where}: {error.message}")
    time = parse_time(event["time"])
    observed = parse_time(event["observedtime"], "observedtime") if event.get("observedtime") else None
    return time, observed
