"""The compiled event schema (``schema_check``) says valid exactly where jsonschema does."""

import copy
import json
import random

from odoo.tests.common import BaseCase, tagged

from ..event_validation import EVENT_TYPES, compiled_check, schema, validate_event, validator
from ..exceptions import EventRejected
from ..schema_check import compile_schema

# Values at and past the schema's edges, of every JSON type.
EDGE_VALUES = (
    None,
    True,
    False,
    0,
    -0.0,
    1,
    -1,
    2.5,
    3.0,
    -1e-9,
    1e-9,
    10**9,
    10**9 + 1,
    1e9 + 0.5,
    2**31 - 1,
    2**31,
    2**53 + 1,
    "",
    "x",
    "x" * 64,
    "x" * 65,
    "x" * 256,
    "x" * 257,
    "x" * 4096,
    "x" * 4097,
    "1.0",
    "application/json",
    "workorder.started",
    "2026-11-23T06:00:00Z",
    "not a time",
    [],
    ["order"],
    ["SN-1", "SN-2"],
    ["SN-1", "SN-1"],
    ["SN-1", 1],
    [""],
    {},
    {"order": "MO-1"},
)
KEYS = ("order", "operation", "qty", "qty_good", "qty_scrap", "material", "characteristic", "pass", "value",
        "reason_code", "downtime_id", "workcenter", "uom", "lot", "operator", "low", "high", "unit", "Extra",
        "x" * 21, "", "ok_extra", "note", "scrap_event", "serials")  # fmt: skip
ENVELOPE_KEYS = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "dataschema",
                 "observedtime", "connection", "mappingrev", "data", "extra1", "Extra", "x" * 21, "")  # fmt: skip


def valid_event(kind, rng):
    """An event of ``kind`` whose data has what its type requires (some optional fields too)."""
    data = {"order": f"WH/MO/{rng.randint(1, 99999):05d}"}
    if kind in ("workorder.completed", "production.reported"):
        data.update(qty_good=rng.choice([0, 2, 7.5, 10**9]), qty_scrap=rng.choice([0, 1]))
    if kind == "material.consumed":
        data.update(material="ALU-1MM", qty=rng.choice([0, 0.4, 4]), uom="KG")
    if kind == "scrap.reported":
        data.update(qty=rng.choice([1, 0.5]), reason_code="DEFECT")
    if kind == "production.corrected":
        data.update(qty=rng.choice([-4, -0.5, 0, 3, -(10**9)]), qty_scrap=rng.choice([0, -1, 2]))
    if kind == "scrap.reversed":
        data.update(rng.choice([{"scrap_event": f"ev-{rng.randint(1, 99)}"}, {"qty": rng.choice([1, 0.5])}]))
    if kind == "consumption.reversed":
        data.update(material="ALU-1MM", qty=rng.choice([0.4, 4]), uom="KG")
        if rng.random() < 0.3:
            data["serials"] = ["SN-1", "SN-2"]
    if kind == "quality.result":
        data.update(characteristic="thickness", value=1.01, low=0.95, high=1.05, unit="mm")
        data["pass"] = rng.choice([True, False])
    if kind.startswith("downtime."):
        data.update(reason_code="MAT", downtime_id=f"dt-{rng.randint(1, 9)}")
    if rng.random() < 0.5:
        data["operation"] = "Stamping"
    event = {
        "specversion": "1.0",
        "id": f"ev-{rng.randint(1, 10**9)}",
        "source": "plant1/line1/press-01",
        "type": kind,
        "time": "2026-11-23T06:00:07.000Z",
        "connection": "plant1-mqtt",
        "data": data,
    }
    if rng.random() < 0.3:
        event["mappingrev"] = rng.randint(0, 50)
    if rng.random() < 0.3:
        event["observedtime"] = "2026-11-23T06:00:07.120Z"
    return event


def mutated(event, rng):
    """``event`` with one to three random changes at the schema's edges."""
    event = copy.deepcopy(event)
    for _step in range(rng.randint(1, 3)):
        target = event["data"] if isinstance(event.get("data"), dict) and rng.random() < 0.6 else event
        keys = KEYS if target is not event else ENVELOPE_KEYS
        action = rng.random()
        if action < 0.2 and target:
            target.pop(rng.choice(list(target)))
        elif action < 0.3:
            event["type"] = rng.choice(EVENT_TYPES + ("workorder.unknown", None, 1, ["production.reported"]))
        else:
            target[rng.choice(keys)] = rng.choice(EDGE_VALUES)
    return event


@tagged("post_install", "-at_install")
class TestIngestSchema(BaseCase):
    def test_the_event_schema_compiles(self):
        self.assertIsNotNone(compiled_check())

    def test_compiled_check_agrees_with_jsonschema_on_generated_events(self):
        check = compiled_check()
        rng = random.Random(18)
        seen = {True: 0, False: 0}
        for _case in range(4000):
            event = valid_event(rng.choice(EVENT_TYPES), rng)
            if rng.random() < 0.8:
                event = mutated(event, rng)
            expected = validator().is_valid(event)
            seen[expected] += 1
            self.assertEqual(check(event), expected, json.dumps(event, default=repr)[:2000])
        # Both sides of the line are exercised, not only one.
        self.assertGreater(seen[True], 500)
        self.assertGreater(seen[False], 500)

    def test_jsonschema_meanings_kept(self):
        check = compiled_check()
        base = valid_event("production.reported", random.Random(1))
        cases = {
            "integral float as mappingrev": {"mappingrev": 3.0},
            "fractional mappingrev": {"mappingrev": 2.5},
            "boolean as mappingrev": {"mappingrev": True},
            "null extension attribute": {"extra1": None},
            "type as a list": {"type": ["production.reported"]},
            "no data for a type that needs it": {"data": None},
        }
        for name, change in cases.items():
            event = dict(base, **change)
            with self.subTest(name):
                self.assertEqual(check(event), validator().is_valid(event))
        qty_as_boolean = copy.deepcopy(base)
        qty_as_boolean["data"]["qty_good"] = True
        self.assertFalse(check(qty_as_boolean))
        self.assertFalse(validator().is_valid(qty_as_boolean))

    def test_invalid_events_keep_jsonschemas_message(self):
        event = valid_event("production.reported", random.Random(2))
        event["data"]["qty_good"] = -1
        with self.assertRaises(EventRejected) as caught:
            validate_event(event)
        self.assertEqual(caught.exception.message, "schema: $.data.qty_good: -1 is less than the minimum of 0")
        event = dict(event, type="workorder.unknown")
        with self.assertRaises(EventRejected) as caught:
            validate_event(event)
        self.assertTrue(caught.exception.message.startswith("unknown event type 'workorder.unknown'"))

    def test_a_schema_with_an_unknown_keyword_is_left_to_jsonschema(self):
        self.assertIsNone(compile_schema({"type": "object", "dependentRequired": {"a": ["b"]}}))
        self.assertIsNone(compile_schema({"$ref": "https://example.com/other.json"}))
        self.assertIsNone(compile_schema({"enum": [1, 2]}))
        self.assertIsNotNone(compile_schema(schema()))
