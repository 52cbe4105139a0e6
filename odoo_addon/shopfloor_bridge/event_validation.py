"""Validation of incoming events, pure Python (no ORM).

One schema for both sides: ``schemas/cloudevent.schema.json`` (the sidecar
runs the same file through ajv; quantity bounds live there). Checked here
besides: the size limits of the event contract (``MAX_EVENT_BYTES`` on the
serialized form, ``MAX_STRING_CHARS``; the sidecar's ``core/contract.ts`` has
the same), numbers JSON cannot carry (NaN, Infinity: Python's json reads
them, JavaScript never makes them), and ``time`` parsed to the naive UTC
datetime Odoo stores, inside the years the module applies. Every failure is
an ``EventRejected`` whose message says what to fix.

Text PostgreSQL cannot store (NUL, lone surrogates) is the business of
``storable_text``; the event is validated as sent, so that the sidecar's ajv
and this module count the same characters.
"""

import json
import math
import os
import re
from datetime import datetime, timezone
from functools import lru_cache

import jsonschema

from .exceptions import EventRejected
from .schema_check import compile_schema
from .storable_text import escape_surrogates_in_json

MAX_EVENT_BYTES = 256 * 1024
MAX_STRING_CHARS = 4096
MAX_INGEST_BATCH = 1000
# Times outside these years are a source clock that lost its setting (year 1,
# 9999); applying them would write time logs Odoo's calendars cannot compute
# on. A clock reset to 2000-01-01 is inside: stored, applied, its skew flagged.
EARLIEST_TIME = datetime(1970, 1, 1)
LATEST_TIME = datetime(2100, 1, 1)
# JavaScript (the sidecar, the web client) reads integers past this rounded.
MAX_SAFE_INTEGER = 2**53

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


@lru_cache(maxsize=1)
def compiled_check():
    """The schema compiled to plain Python (``schema_check.py``), None when it uses
    what the compiler does not know: it says valid or not; jsonschema, only run
    on what it finds invalid, says why."""
    return compile_schema(schema())


EVENT_TYPES = tuple(schema()["properties"]["type"]["enum"])


# RFC 3339's date-time (ASCII digits only: \d would take other scripts' digits too).
_DATE_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
RFC3339 = re.compile(
    rf"(?P<date_time>{_DATE_TIME})(?:\.(?P<fraction>[0-9]+))?(?P<offset>[Zz]|[+-][0-9]{{2}}:[0-9]{{2}})"
)
RFC3339_WITHOUT_ZONE = re.compile(rf"{_DATE_TIME}(?:\.[0-9]+)?")


def parse_time(value, field="time"):
    """RFC 3339 text → naive UTC datetime (Odoo's storage), or EventRejected.

    The shape is RFC 3339's (section 5.6), as the sidecar reads it (``readTime`` in
    ``core/rfc3339.ts``): seconds and a zone required, 'T' and 'Z' in either case, any
    digits of fraction (read to the microsecond). Python's fromisoformat alone reads much
    more of ISO 8601 (no seconds, '+0100', '20260102T030405Z', week dates), which the
    sidecar refuses."""
    if not isinstance(value, str) or not value:
        raise EventRejected(f"{field} must be an RFC 3339 date-time text, got {value!r}", field=field)
    shape = RFC3339.fullmatch(value)
    if shape is None:
        if "T" not in value and "t" not in value:
            raise EventRejected(f"{field} {value!r} is not an RFC 3339 date-time (no 'T')", field=field)
        if RFC3339_WITHOUT_ZONE.fullmatch(value):
            raise EventRejected(f"{field} {value!r} has no time zone (use Z or an offset such as +01:00)", field=field)
        raise EventRejected(
            f"{field} {value!r} is not an RFC 3339 date-time such as 2026-01-02T03:04:05Z or "
            "2026-01-02T04:04:05.250+01:00",
            field=field,
        )
    date_time, fraction, offset = shape.group("date_time", "fraction", "offset")
    if offset not in ("Z", "z") and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
        raise EventRejected(f"{field} {value!r} has offset {offset} (at most ±23:59)", field=field)
    if date_time.startswith("0000"):  # RFC 3339 has a year 0, Python's datetime none
        raise _outside_window(value, field)
    # fromisoformat reads at most six digits of fraction: the microseconds, the rest cut off.
    text = date_time + (f".{fraction[:6]}" if fraction else "") + ("+00:00" if offset in ("Z", "z") else offset)
    try:
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError) as error:
        raise EventRejected(f"{field} {value!r} is not an RFC 3339 date-time ({error})", field=field) from error
    try:
        return parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError as error:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise EventRejected(f"{field} {value!r} is out of the calendar once turned to UTC", field=field) from error


def check_time_window(moment, value, field="time"):
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise _outside_window(value, field)


def _outside_window(value, field):
    return EventRejected(
        f"{field} {value!r} is outside the years {EARLIEST_TIME.year}-{LATEST_TIME.year - 1} the module "
        "applies: a source clock that lost its setting? Fix the clock; the event can be edited and retried.",
        field=field,
    )


class _Findings:
    """What one walk over an item found (``_scan``)."""

    __slots__ = ("long_string", "non_finite", "unsafe")

    def __init__(self):
        self.long_string = None  # (path, length) of the first text over MAX_STRING_CHARS
        self.non_finite = None  # (path, number) of the first NaN or Infinity
        self.unsafe = []  # paths of integers past 2^53


def _path(segments):
    return "$" + "".join(f"[{part[0]}]" if isinstance(part, tuple) else f".{part}" for part in segments)


def _scan(value, segments, found):
    """One walk in document order; paths are only written for what is found."""
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS and found.long_string is None:
            found.long_string = (_path(segments), len(value))
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            found.unsafe.append(_path(segments))
    elif isinstance(value, float):
        if found.non_finite is None and not math.isfinite(value):
            found.non_finite = (_path(segments), value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and len(key) > MAX_STRING_CHARS and found.long_string is None:
                found.long_string = (f"{_path(segments)} (a key)", len(key))
            segments.append(key)
            _scan(item, segments, found)
            segments.pop()
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            segments.append((index,))
            _scan(item, segments, found)
            segments.pop()


def _findings(event):
    found = _Findings()
    _scan(event, [], found)
    return found


def unsafe_integers(event):
    """Paths of integers JavaScript cannot hold exactly (stored as sent, flagged)."""
    return _findings(event).unsafe


def serialize(event):
    """The item as JSON text PostgreSQL can store: JSON escapes NUL (``\\u0000``),
    and lone surrogates are escaped here the same way, so ``json.loads`` gives
    the item back exactly."""
    return escape_surrogates_in_json(json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=repr))


def validate_event(event, serialized=None):
    """Checks one CloudEvent dict; returns (time, observed_time) as naive UTC datetimes.

    Raises EventRejected naming the first problem found.
    """
    time, observed, _unsafe = inspect_event(event, serialized)
    return time, observed


def inspect_event(event, serialized=None):
    """``validate_event`` and ``unsafe_integers`` in one walk over the event:
    returns (time, observed_time, paths of integers past 2^53)."""
    if not isinstance(event, dict):
        raise EventRejected(f"an event must be a JSON object, got {type(event).__name__}")
    serialized = serialized if serialized is not None else serialize(event)
    size = len(serialized.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        raise EventRejected(f"event is {size} bytes serialized, over the {MAX_EVENT_BYTES}-byte limit", size=size)
    found = _findings(event)
    if found.long_string:
        path, length = found.long_string
        raise EventRejected(f"string at {path} is {length} characters, over the {MAX_STRING_CHARS} limit")
    if found.non_finite:
        path, number = found.non_finite
        raise EventRejected(f"{path} is {number!r}: JSON has no NaN or Infinity, send a finite number")
    check = compiled_check()
    error = (
        None if check is not None and check(event) else jsonschema.exceptions.best_match(validator().iter_errors(event))
    )
    if error is not None:
        where = "$" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        if error.validator == "enum" and list(error.absolute_path) == ["type"]:
            raise EventRejected(f"unknown event type {event.get('type')!r}; known types: {', '.join(EVENT_TYPES)}")
        raise EventRejected(f"schema: {where}: {error.message}")
    time = parse_time(event["time"])
    check_time_window(time, event["time"])
    observed = None
    if "observedtime" in event:  # an empty one too: the schema's date-time, as the sidecar reads it
        observed = parse_time(event["observedtime"], "observedtime")
        check_time_window(observed, event["observedtime"], "observedtime")
    return time, observed, found.unsafe
