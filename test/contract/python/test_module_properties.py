"""Hypothesis properties of the module's pure-Python parts, outside Odoo.

Run by ``test/contract/module-properties.int.test.ts`` with the peers' virtual
environment (``.venv-peers``: hypothesis, and the jsonschema Odoo runs), never
Odoo's Python. The module's files are loaded as a package of their own: they
import nothing of Odoo.

- ``schema_check``: the event schema compiled to plain Python gives
  jsonschema's verdict on any JSON value shaped like an event or not.
- ``storable_text``: any JSON value, surrogates and NUL included, goes to
  PostgreSQL-storable text and comes back the same; the cheap pre-check never
  says "nothing to escape" when there is.
- ``event_validation.parse_time``: any aware date-time written in RFC 3339
  (any offset, fraction, letter case) is read as its UTC instant, to the
  microsecond, or refused as out of the calendar.
"""

import importlib
import json
import re
import sys
import types
import unittest
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

MODULE_DIR = Path(__file__).resolve().parents[3] / "odoo_addon" / "shopfloor_bridge"
package = types.ModuleType("sfb_properties")
package.__path__ = [str(MODULE_DIR)]
sys.modules["sfb_properties"] = package
event_validation = importlib.import_module("sfb_properties.event_validation")
schema_check = importlib.import_module("sfb_properties.schema_check")
storable_text = importlib.import_module("sfb_properties.storable_text")

EXAMPLES = int(__import__("os").environ.get("SFB_HYPOTHESIS_EXAMPLES", "400"))
# No example database: nothing is written into the tree; a failure prints its example.
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# Any text: every code point, lone surrogates (which hypothesis leaves out unless asked) and NUL too.
# A lone high surrogate followed by a lone low one has no JSON form: JSON writes each as
# \\udXXX, and every reader (json.loads too) joins such a pair into one character. json.loads
# never makes such a text, so the properties leave it out (found by the round trip below).
JOINED_BY_JSON = re.compile("[\ud800-\udbff][\udc00-\udfff]")
# A list of characters joined, not st.text: text() draws from the union of its alphabet's code
# points, where the 2,048 surrogates are lost among a million.
any_text = (
    st.lists(
        st.one_of(
            st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF),
            st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"]),
            st.sampled_from(["\x00", "\\", '"', "\u2028", "\U0001f600"]),
        ),
        max_size=12,
    )
    .map("".join)
    .filter(lambda text: not JOINED_BY_JSON.search(text))
)
# JSON numbers as Python's json reads them (non-finite ones are refused before the schema).
numbers = st.one_of(
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, -1, 0.5, 1.0, 2147483647, 2147483648, 1e9, 1000000000.5]),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)

SCHEMA = event_validation.schema()
EVENT_TYPES = list(event_validation.EVENT_TYPES)


def _resolve(schema):
    while "$ref" in schema:
        schema = SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@st.composite
def valid_value(draw, schema):
    """A value ``schema`` accepts, for the keywords the event schema uses (plus edges: the
    bounds themselves, integral floats, the longest texts)."""
    schema = _resolve(schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return draw(st.sampled_from(schema["enum"]))
    if "anyOf" in schema:
        return draw(valid_value(draw(st.sampled_from(schema["anyOf"]))))
    kinds = schema.get("type", ["string", "number", "boolean", "null"])
    kind = draw(st.sampled_from(kinds if isinstance(kinds, list) else [kinds]))
    if kind == "string":
        if "pattern" in schema:
            return draw(st.from_regex(schema["pattern"], fullmatch=True).filter(lambda t: len(t) <= 20))
        low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 40)
        return draw(st.one_of(st.text(min_size=low, max_size=high), st.just("x" * schema.get("maxLength", 40))))
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -(2**53)))
        high = schema.get("maximum", 2**53)
        if kind == "integer":
            value = draw(st.one_of(st.integers(int(low), int(high)), st.sampled_from([int(low), int(high)])))
            if draw(st.booleans()):
                value = float(value)  # 3.0 is an integer to JSON Schema
        else:
            value = draw(
                st.one_of(st.floats(low, high), st.sampled_from([low, high]), st.integers(int(low), int(high)))
            )
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            value = high
        return value
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "null":
        return None
    if kind == "array":
        items = _resolve(schema.get("items", {}))
        values = draw(
            st.lists(
                valid_value(items),
                min_size=schema.get("minItems", 0),
                max_size=4,
                unique=schema.get("uniqueItems", False),
            )
        )
        return values
    # An object: its required properties, some optional ones, maybe one more.
    properties = schema.get("properties", {})
    value = {name: draw(valid_value(properties[name])) for name in schema.get("required", []) if name in properties}
    for name in draw(st.lists(st.sampled_from(sorted(properties)), max_size=3, unique=True)) if properties else []:
        value[name] = draw(valid_value(properties[name]))
    extra = schema.get("additionalProperties", True)
    if isinstance(extra, dict) and draw(st.booleans()):
        value[draw(st.from_regex(r"[a-z_]{1,8}", fullmatch=True))] = draw(valid_value(extra))
    return value


ENVELOPE_REQUIRED = SCHEMA["required"]
ENVELOPE_OPTIONAL = [name for name in SCHEMA["properties"] if name not in ENVELOPE_REQUIRED and name != "data"]
TIMES = ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.5+01:00"]


@st.composite
def events(draw):
    """A valid event of any type (every required field, some optional ones, its type's data),
    then none, one or two changes: a field dropped, or set to any JSON value or to another
    field's kind of value, an extension attribute added."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    event = {name: draw(valid_value(SCHEMA["properties"][name])) for name in ENVELOPE_REQUIRED if name != "time"}
    event["type"], event["time"] = event_type, draw(st.sampled_from(TIMES))
    for name in draw(st.lists(st.sampled_from(ENVELOPE_OPTIONAL), max_size=3, unique=True)):
        if name not in ("time", "observedtime"):
            event[name] = draw(valid_value(SCHEMA["properties"][name]))
    branch = next(b for b in SCHEMA["allOf"] if b["if"]["properties"]["type"]["const"] == event_type)
    event["data"] = draw(valid_value(branch["then"]["properties"]["data"]))
    for _ in range(draw(st.integers(0, 2))):
        target = event["data"] if isinstance(event.get("data"), dict) and draw(st.booleans()) else event
        names = sorted(target) or ["x"]
        name = draw(st.one_of(st.sampled_from(names), st.from_regex(r"[a-zA-Z_-]{1,8}", fullmatch=True)))
        change = draw(st.integers(0, 2))
        if change == 0:
            target.pop(name, None)
        elif change == 1:
            target[name] = draw(json_values)
        else:
            target[name] = draw(
                st.sampled_from([True, 1, 1.0, 0, -1, "", "1", None, [], {}, ["S1", "S1"], 1e15, 2**53 + 1])
            )
    return event


class TestCompiledSchema(unittest.TestCase):
    """``schema_check`` is the module's fast path: it must say what jsonschema says."""

    compiled = staticmethod(schema_check.compile_schema(SCHEMA))
    reference = event_validation.validator()

    def test_the_event_schema_compiles(self):
        self.assertIsNotNone(self.compiled)

    @SETTINGS
    @given(st.one_of(events(), json_values))
    @example(
        {
            "specversion": "1.0",
            "id": "e",
            "source": "s",
            "type": "production.reported",
            "time": "2026-01-02T03:04:05Z",
            "data": {"order": "MO", "qty_good": True},
        }
    )
    def test_compiled_check_gives_jsonschemas_verdict(self, instance):
        self.assertEqual(self.compiled(instance), self.reference.is_valid(instance), instance)


class TestStorableText(unittest.TestCase):
    @SETTINGS
    @given(json_values)
    @example({"\x00": ["\ud800", "\udfff\ud800"]})
    def test_any_json_value_is_stored_and_read_back_the_same(self, value):
        text = storable_text.escape_surrogates_in_json(json.dumps(value, ensure_ascii=False))
        text.encode("utf-8")  # PostgreSQL's encoding: no lone surrogate left
        self.assertEqual(json.loads(text), value)

    def test_a_lone_high_then_low_surrogate_reads_back_as_one_character(self):
        """What the round trip found, kept as it is: no JSON form keeps the two apart
        (``JOINED_BY_JSON``), and a request's JSON never holds them so."""
        text = storable_text.escape_surrogates_in_json(json.dumps({"k": "\ud800\udc00"}, ensure_ascii=False))
        self.assertEqual(text, '{"k": "\\ud800\\udc00"}')
        self.assertEqual(json.loads(text), {"k": "\U00010000"})

    @SETTINGS
    @given(json_values)
    def test_the_pre_check_never_misses_what_needs_escaping(self, value):
        text = storable_text.escape_surrogates_in_json(json.dumps(value, ensure_ascii=False))
        escaped, paths = storable_text.escape_deep(value)
        if not storable_text.may_hold_unstorable(text):
            self.assertEqual(paths, [])
        self.assertIsNone(storable_text.UNSTORABLE.search(json.dumps(escaped, ensure_ascii=False)))


@st.composite
def rfc3339_times(draw):
    """An aware date-time and one RFC 3339 text of it: any offset to ±23:59, 0 to 9 digits of
    fraction (the text's own, of which Python keeps six), T/Z in either case."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
    offset_minutes = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    digits = draw(st.text("0123456789", min_size=0, max_size=9))
    zone = "Z" if offset_minutes == 0 and draw(st.booleans()) else None
    if zone is None:
        sign = "-" if offset_minutes < 0 else "+"
        zone = f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    text = moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + (f".{digits}" if digits else "") + zone
    if draw(st.booleans()):
        text = text.replace("T", "t").replace("Z", "z")
    microseconds = int(digits[:6].ljust(6, "0")) if digits else 0
    local = moment.replace(microsecond=microseconds, tzinfo=timezone(timedelta(minutes=offset_minutes)))
    return text, local


class TestParseTime(unittest.TestCase):
    @SETTINGS
    @given(rfc3339_times())
    @example(("0001-01-01T00:30:00+01:00", datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))))
    def test_any_rfc3339_text_reads_as_its_instant(self, case):
        text, local = case
        try:
            expected = local.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            with self.assertRaisesRegex(event_validation.EventRejected, "out of the calendar once turned to UTC"):
                event_validation.parse_time(text)
            return
        if text.startswith("0000"):
            return  # not made: datetimes start in year 1
        self.assertEqual(event_validation.parse_time(text), expected, text)


if __name__ == "__main__":
    unittest.main()
