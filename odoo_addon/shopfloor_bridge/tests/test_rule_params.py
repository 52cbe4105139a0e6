"""Tag-rule parameters as typed fields: what each kind's fields send the sidecar, JSON import and export, the
value-map and event-field rows, and the upgrade from params_json (18.0.0.3.0)."""

import importlib.util
import json
import random
from pathlib import Path

import psycopg2

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .. import rule_params
from .common import ShopfloorCase

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations" / "18.0.0.3.0"
TEXT_POOL = "abcXYZ019 _-./:;[]{}\"'\\éß→🙂"
PROTOCOL_ADDRESS = {
    "opcua": "ns=2;s=Line1/{}",
    "payload": "plant1/line1/{}",
    "sparkplug": "Plant1/Edge/Press/{}",
    "modbus": "hr{}",
    "s7": "DB10,INT{}",
    "enip": "Line.Tag{}",
}
SCRAP = "scrap.reported"
PRODUCTION = "production.reported"


def load_migration(name):
    spec = importlib.util.spec_from_file_location(f"sfb_migration_{name.replace('-', '_')}", MIGRATIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_params(rng, kind, event_type, protocol):
    """Parameters of every key the engines read for this rule, each present or not, values from its whole
    class (integers and fractions, negative offsets, any text, every state, every fixed-value type)."""

    def text():
        return "".join(rng.choice(TEXT_POOL) for _ in range(rng.randint(1, 12))).strip() or "x"

    def address():
        if protocol in ("modbus", "s7", "enip"):
            return PROTOCOL_ADDRESS[protocol].format(rng.randint(0, 9999))
        if protocol == "opcua":
            # Any text as a string node id: a bare text is no node id, and the rule refuses it.
            return f"ns=2;s={text()}"
        if protocol == "sparkplug":
            # Any text as a metric name (it may hold /): group, edge node and device are ids.
            return f"Plant1/Edge/Press/{text()}"
        return text()

    def number(low, high):
        return rng.randint(low, high) if rng.random() < 0.5 else round(rng.uniform(low, high), rng.randint(0, 9))

    def value_map():
        states = ["running", "idle", "down", "setup", "teardown", "down:MATERIAL", "down:E-42"]
        mapped = {str(value): rng.choice(states) for value in rng.sample(range(-5, 50), rng.randint(1, 6))}
        if rng.random() < 0.3:
            mapped["true"] = "running"
        return mapped

    def tag_fields():
        names = rng.sample(["order", "operation", "qty_good", "qty_scrap", "operator", "lot"], rng.randint(1, 4))
        return {name: address() for name in names}

    def static_fields():
        names = rng.sample(["operation", "qty_good", "pass", "reason_code", "characteristic"], rng.randint(1, 3))
        return {name: rng.choice([text(), number(-100, 100), rng.random() < 0.5, ""]) for name in names}

    makers = {
        "scale": lambda: number(1, 1000) * rng.choice((1, -1, 0.001)),
        "offset": lambda: number(-1000, 1000),
        "deadband": lambda: number(1, 100),
        "wrap_at": lambda: rng.choice((2, 10000, 65536, 2**32, 2**48)),
        "window_ms": lambda: rng.choice((1, 250, 1500, 1000, 60000, 86_400_000, 12.5)),
        "order_address": address,
        "operation_address": address,
        "reason_address": address,
        "value_map": value_map,
        "fields": tag_fields,
        "static": static_fields,
    }
    params = {}
    for key in rule_params.reads(kind, event_type, protocol):
        if rng.random() >= 0.4:
            params[key] = makers.get(key, text)()
    return params


@tagged("post_install", "-at_install")
class TestRuleParams(ShopfloorCase):
    def make_rule(self, kind="counter", event_type=PRODUCTION, protocol="opcua", connection=None, **values):
        connection = connection or self.connection
        return self.env["shopfloor.mapping.rule"].create(
            {
                "connection_id": connection.id,
                "kind": kind,
                "protocol": protocol,
                "address": values.pop("address", PROTOCOL_ADDRESS[protocol].format(len(connection.rule_ids) + 1)),
                "source": "plant1/line1/press-01",
                "event_type": event_type if kind != "state" else False,
                **values,
            }
        )

    def sent(self, rule):
        [sent] = [r for r in self.connection._sidecar_config()["rules"] if r["id"] == rule.id]
        return sent["params"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.plcs = {
            kind: env["shopfloor.connection"].create(
                {"code": f"rp-{kind}", "name": kind, "kind": kind, "plc_host": "10.0.0.1"}
            )
            for kind in ("modbus", "s7", "enip")
        }

    # ------------------------------------------------------------------ typed → params

    def test_counter_fields(self):
        rule = self.make_rule(
            wrap_at=65536,
            window=1.5,
            window_unit="s",
            order_address="ns=2;s=Order",
            fixed_order="WH/MO/00001",
            operation_address="ns=2;s=Op",
            fixed_operation="Cutting",
            uom="PCS",
            use_scale=True,
            scale=0.1,
            unit="kg",
            # Read by scrap counters only: a production counter sends none of them.
            reason_address="ns=2;s=Why",
            reason_code="JAM",
            material="STEEL",
        )
        self.assertEqual(
            self.sent(rule),
            {
                "wrap_at": 65536,
                "window_ms": 1500,
                "order_address": "ns=2;s=Order",
                "order": "WH/MO/00001",
                "operation_address": "ns=2;s=Op",
                "operation": "Cutting",
                "uom": "PCS",
                "scale": 0.1,
                "unit": "kg",
            },
        )
        rule.event_type = SCRAP
        self.assertEqual(
            {key: self.sent(rule)[key] for key in ("reason_address", "reason_code", "material")},
            {"reason_address": "ns=2;s=Why", "reason_code": "JAM", "material": "STEEL"},
        )
        rule.write({"window": 250, "window_unit": "ms", "wrap_at": 0, "use_scale": False})
        self.assertEqual(self.sent(rule)["window_ms"], 250)
        self.assertNotIn("wrap_at", self.sent(rule))
        self.assertNotIn("scale", self.sent(rule))
        self.assertEqual(json.loads(rule.params_json), self.sent(rule))

    def test_state_fields_and_value_map_rows(self):
        rule = self.make_rule(
            kind="state",
            reason_address="ns=2;s=Reason",
            default_reason="NOREASON",
            order_address="ns=2;s=Order",
            fixed_order="WH/MO/00002",
            value_map_ids=[
                (0, 0, {"value": "1", "state": "running"}),
                (0, 0, {"value": "2", "state": "idle"}),
                (0, 0, {"value": "3", "state": "down"}),
                (0, 0, {"value": "starved", "state": "down", "reason_code": "MATERIAL"}),
                (0, 0, {"value": "5", "state": "setup"}),
                (0, 0, {"value": "true", "state": "teardown"}),
            ],
        )
        self.assertEqual(
            self.sent(rule),
            {
                "value_map": {
                    "1": "running",
                    "2": "idle",
                    "3": "down",
                    "starved": "down:MATERIAL",
                    "5": "setup",
                    "true": "teardown",
                },
                "reason_address": "ns=2;s=Reason",
                "default_reason": "NOREASON",
                "order_address": "ns=2;s=Order",
                "order": "WH/MO/00002",
            },
        )
        with self.assertRaisesRegex(ValidationError, "only down takes a reason code"), self.cr.savepoint():
            rule.value_map_ids[0].reason_code = "JAM"
        with self.assertRaisesRegex(ValidationError, "write the reason code after down: once"), self.cr.savepoint():
            rule.value_map_ids[2].reason_code = "A:B"
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError), self.cr.savepoint():
            rule.write({"value_map_ids": [(0, 0, {"value": "1", "state": "idle"})]})

    def test_trigger_field_rows(self):
        rule = self.make_rule(
            kind="trigger",
            event_type="quality.result",
            unit="mm",
            field_ids=[
                (0, 0, {"name": "order", "source": "tag", "address": "ns=2;s=Order"}),
                (0, 0, {"name": "value", "source": "tag", "address": "ns=2;s=Diameter"}),
                (0, 0, {"name": "order", "source": "text", "text_value": "WH/MO/00001"}),
                (0, 0, {"name": "characteristic", "source": "text", "text_value": "diameter"}),
                (0, 0, {"name": "low", "source": "number", "number_value": 9.95}),
                (0, 0, {"name": "high", "source": "number", "number_value": 10}),
                (0, 0, {"name": "pass", "source": "boolean", "boolean_value": True}),
            ],
        )
        self.assertEqual(
            self.sent(rule),
            {
                "unit": "mm",
                "fields": {"order": "ns=2;s=Order", "value": "ns=2;s=Diameter"},
                "static": {"order": "WH/MO/00001", "characteristic": "diameter", "low": 9.95, "high": 10, "pass": True},
            },
        )
        for row, message in (
            ({"name": "value", "source": "tag", "address": "ns=2;s=Other"}, "field value is listed twice"),
            ({"name": "lot", "source": "tag", "address": " "}, "field lot reads a tag: give its address"),
            ({"name": "qty good", "source": "number"}, "is not an event field name"),
        ):
            with self.subTest(row=row), self.assertRaisesRegex(ValidationError, message), self.cr.savepoint():
                rule.write({"field_ids": [(0, 0, row)]})

    def test_scale_offset_unit_on_every_kind(self):
        for kind, event_type in (("counter", PRODUCTION), ("state", False), ("trigger", "workorder.started")):
            rule = self.make_rule(
                kind=kind, event_type=event_type, use_scale=True, scale=2.5, use_offset=True, offset=0, unit="PCS"
            )
            self.assertEqual(self.sent(rule), {"scale": 2.5, "offset": 0, "unit": "PCS"}, kind)
            with self.assertRaisesRegex(ValidationError, "a scale of 0"), self.cr.savepoint():
                rule.scale = 0
            # A scale not ticked is not sent, whatever the number says.
            rule.write({"use_scale": False, "scale": 0, "use_offset": False})
            self.assertEqual(self.sent(rule), {"unit": "PCS"})

    def test_counter_checks(self):
        rule = self.make_rule()
        for values, message in (
            ({"wrap_at": 1}, "Wraps at is the counter's modulus"),
            ({"wrap_at": 65536.5}, "Wraps at is the counter's modulus"),
            ({"wrap_at": 2.0**60}, "is too large"),
            ({"window": -1}, "the window cannot be negative"),
        ):
            with self.subTest(values=values), self.assertRaisesRegex(ValidationError, message), self.cr.savepoint():
                rule.write(values)
        with self.assertRaisesRegex(ValidationError, "must derive production.reported or scrap.reported"):
            rule.event_type = "workorder.started"

    # ------------------------------------------------------------------ JSON import / export

    def round_trip(self, kind, event_type, protocol, params, connection=None):
        """params → Import JSON → typed fields → params, and the typed fields read back as themselves."""
        rule = self.make_rule(kind=kind, event_type=event_type, protocol=protocol, connection=connection)
        rule.params_import = json.dumps(params)
        rule.action_import_params()
        self.assertFalse(rule.params_import)
        self.assertEqual(rule._sidecar_params(), params, (kind, event_type, protocol))
        self.assertEqual(json.loads(rule.params_json), params)
        typed = rule._typed_params()
        self.assertEqual(rule_params.to_params(kind, event_type, protocol, typed), params)
        return rule

    def test_import_round_trip_table(self):
        cases = [
            ("counter", PRODUCTION, "opcua", {}),
            (
                "counter",
                PRODUCTION,
                "opcua",
                {
                    "wrap_at": 65536,
                    "window_ms": 60000,
                    "order_address": "ns=2;s=Order",
                    "order": "WH/MO/1",
                    "operation_address": "ns=2;s=Op",
                    "operation": "Cut",
                    "uom": "PCS",
                    "scale": -0.5,
                    "offset": 3,
                    "unit": "kg",
                },
            ),
            ("counter", SCRAP, "sparkplug", {"reason_address": "G/E/D/Why", "reason_code": "JAM", "material": "M1"}),
            ("counter", PRODUCTION, "payload", {"window_ms": 1500, "offset": 0}),
            ("counter", PRODUCTION, "payload", {"window_ms": 0.5}),
            ("counter", PRODUCTION, "payload", {"wrap_at": 2**48, "scale": 1e-7}),
            (
                "state",
                False,
                "opcua",
                {
                    "value_map": {
                        "0": "idle",
                        "1": "running",
                        "3": "down",
                        "9": "down:E9",
                        "4": "setup",
                        "x": "teardown",
                    },
                    "reason_address": "ns=2;s=R",
                    "default_reason": "OTHER",
                    "order_address": "ns=2;s=O",
                    "order": "MO-9",
                },
            ),
            (
                "trigger",
                "workorder.completed",
                "payload",
                {
                    "fields": {"order": "a/Order", "qty_good": "a/Good"},
                    "static": {"operation": "Assembly", "qty_scrap": 0, "uom": ""},
                },
            ),
            ("trigger", "quality.result", "opcua", {"static": {"pass": False, "value": -1.25}, "unit": "mm"}),
            ("counter", PRODUCTION, "modbus", {"deadband": 2, "order_address": "hr10:string20", "scale": 0.1}),
            ("state", False, "s7", {"value_map": {"1": "running"}, "reason_address": "DB10,INT2", "deadband": 0.5}),
            ("trigger", "workorder.started", "enip", {"fields": {"order": "Program:Main.Order"}, "deadband": 1}),
        ]
        for kind, event_type, protocol, params in cases:
            with self.subTest(kind=kind, params=params):
                self.round_trip(kind, event_type, protocol, params, connection=self.plcs.get(protocol))

    def test_import_round_trip_random(self):
        # Property-style (hypothesis is not in Odoo's Python here): seeded, so a failure names its case.
        rng = random.Random(19)
        shapes = [
            (kind, event_type, protocol)
            for kind, event_types in (
                ("counter", (PRODUCTION, SCRAP)),
                ("state", (False,)),
                ("trigger", ("workorder.completed", "quality.result")),
            )
            for event_type in event_types
            for protocol in PROTOCOL_ADDRESS
        ]
        for case in range(120):
            kind, event_type, protocol = shapes[case % len(shapes)]
            params = random_params(rng, kind, event_type, protocol)
            with self.subTest(case=case, kind=kind, event_type=event_type, protocol=protocol, params=params):
                self.round_trip(kind, event_type, protocol, params, connection=self.plcs.get(protocol))

    def test_import_refuses_with_every_reason(self):
        rule = self.make_rule(kind="counter", event_type=PRODUCTION)
        bad = [
            ("{wrap", "the parameters are not valid JSON"),
            ("[1, 2]", "the parameters must be a JSON object"),
            ('{"wrap_at": "65536"}', 'wrap_at must be a number, got "65536"'),
            ('{"wrap_at": 0}', "wrap_at is the counter's modulus"),
            ('{"window_ms": -5}', "window_ms cannot be negative"),
            ('{"scale": 0}', "a scale of 0"),
            ('{"scale": true}', "scale must be a number, got true"),
            ('{"offset": NaN}', "offset must be a number, got NaN"),
            ('{"scale": 1e300}', "is too large"),
            ('{"order": 42}', "order must be text, got 42"),
            ('{"unit": " "}', "unit must be the floor unit as text"),
            ('{"value_map": {"1": "running"}}', "value_map is read by state rules, not counter rules"),
            ('{"reason_code": "JAM"}', "reason_code is read by counters of scrap.reported only"),
            ('{"deadband": 1}', "deadband is read for polled PLCs only"),
            ('{"note": "x"}', "note is not a parameter the sidecar reads"),
        ]
        for text, message in bad:
            rule.params_import = text
            with self.subTest(text=text), self.assertRaisesRegex(ValidationError, message), self.cr.savepoint():
                rule.action_import_params()
        state = self.make_rule(kind="state")
        for value_map, message in (
            ('"running"', "value_map must be an object"),
            ('{"1": "stopped"}', "is not one of running, idle, down, setup, teardown or down:CODE"),
            ('{"1": "setup:X"}', "only down takes a reason code"),
            ('{"1": 2}', "the state must be text"),
            ('{"": "idle"}', "an empty tag value never matches"),
        ):
            state.params_import = f'{{"value_map": {value_map}}}'
            with (
                self.subTest(value_map=value_map),
                self.assertRaisesRegex(ValidationError, message),
                self.cr.savepoint(),
            ):
                state.action_import_params()
        trigger = self.make_rule(kind="trigger", event_type="workorder.started")
        for text, message in (
            ('{"fields": {"order": 7}}', "the tag address must be text"),
            ('{"fields": ["order"]}', "fields must be an object"),
            ('{"static": {"lot": {"a": 1}}}', "a fixed value is text, a number or true/false"),
            ('{"static": {"": "x"}}', "is not an event field name"),
        ):
            trigger.params_import = text
            with self.subTest(text=text), self.assertRaisesRegex(ValidationError, message), self.cr.savepoint():
                trigger.action_import_params()
        # Every problem is named at once, and nothing was taken.
        rule.params_import = '{"wrap_at": "x", "note": 1, "window_ms": 1000}'
        with self.assertRaisesRegex(ValidationError, r"(?s)wrap_at must be a number.*note is not a parameter"):
            rule.action_import_params()
        self.assertEqual(rule._sidecar_params(), {})
        rule.params_import = "  "
        with self.assertRaisesRegex(UserError, "Paste the parameters as JSON"):
            rule.action_import_params()

    def test_import_bumps_the_revision_once(self):
        rule = self.make_rule(kind="state")
        revision = self.connection.revision
        rule.params_import = '{"value_map": {"1": "running", "2": "down:JAM"}, "default_reason": "X"}'
        self.assertEqual(self.connection.revision, revision, "pasting moves nothing")
        rule.action_import_params()
        self.assertEqual(self.connection.revision, revision + 1)
        rule.value_map_ids[0].state = "idle"  # a row edited on its own
        self.assertEqual(self.connection.revision, revision + 2)
        self.assertIn("State rule value map row changed", self.connection.message_ids[0].body)
        self.assertEqual(self.sent(rule)["value_map"], {"1": "idle", "2": "down:JAM"})

    def test_params_json_written_over_rpc_is_imported(self):
        # What the sidecar's test kits and older scripts do: create with params_json.
        rule = self.make_rule(kind="state", params_json='{"value_map": {"1": "running"}, "order": "MO-1"}')
        self.assertEqual([(row.value, row.state) for row in rule.value_map_ids], [("1", "running")])
        self.assertEqual(rule.fixed_order, "MO-1")
        with self.assertRaisesRegex(ValidationError, "wrap_at is read by counter rules"):
            rule.params_json = '{"wrap_at": 10}'

    def test_form_builds_a_state_and_a_counter_rule(self):
        form = Form(self.env["shopfloor.mapping.rule"])
        form.connection_id = self.plcs["modbus"]
        form.kind = "state"
        form.address = "hr7"
        form.source = "plant1/line1/press-01"
        form.deadband = 0
        with form.value_map_ids.new() as row:
            row.value = "1"
            row.state = "running"
        with form.value_map_ids.new() as row:
            row.value = "2"
            row.state = "down"
            row.reason_code = "JAM"
        state = form.save()
        self.assertEqual(state.protocol, "modbus")
        self.assertEqual(state._sidecar_params(), {"value_map": {"1": "running", "2": "down:JAM"}})
        form = Form(self.env["shopfloor.mapping.rule"])
        form.connection_id = self.plcs["modbus"]
        form.address = "hr8:uint32:CDAB"
        form.source = "plant1/line1/press-01"
        form.event_type = PRODUCTION
        form.use_scale = True
        form.scale = 0.5
        form.use_offset = True
        form.offset = -2
        form.window = 30
        counter = form.save()
        self.assertEqual(counter._sidecar_params(), {"scale": 0.5, "offset": -2, "window_ms": 30000})

    # ------------------------------------------------------------------ upgrade from params_json

    def test_migration_keeps_what_the_sidecar_gets(self):
        cr = self.env.cr
        canonical = {
            "counter": {"wrap_at": 65536, "window_ms": 60000, "order_address": "ns=2;s=O", "scale": 0.5},
            "state": {"value_map": {"1": "running", "3": "down:JAM"}, "reason_address": "ns=2;s=R"},
            "trigger": {"fields": {"order": "ns=2;s=O"}, "static": {"operation": "Cut", "qty_good": 1}},
        }
        rules = {
            kind: self.make_rule(
                kind=kind, event_type={"state": False, "trigger": "workorder.completed"}.get(kind, PRODUCTION)
            )
            for kind in canonical
        }
        # Written differently, or ignored by the engines: the same sidecar behaviour, said in the chatter.
        loose = self.make_rule(kind="counter", event_type=PRODUCTION)
        loose_json = '{"order_address": null, "window_ms": 0, "note": "kept by hand", "value_map": {"1": "idle"}}'
        # As the 18.0.0.2.0 table held them: a params_json column, typed fields empty.
        cr.execute("ALTER TABLE shopfloor_mapping_rule ADD COLUMN params_json text")
        for kind, rule in rules.items():
            cr.execute(
                "UPDATE shopfloor_mapping_rule SET params_json = %s WHERE id = %s",
                [json.dumps(canonical[kind]), rule.id],
            )
        cr.execute("UPDATE shopfloor_mapping_rule SET params_json = %s WHERE id = %s", [loose_json, loose.id])
        load_migration("pre-migration").migrate(cr, "18.0.0.2.0")
        cr.execute("SELECT legacy_params_json FROM shopfloor_mapping_rule WHERE id = %s", [loose.id])
        self.assertEqual(cr.fetchone()[0], loose_json)
        revision = self.connection.revision
        messages = len(self.connection.message_ids)
        load_migration("post-migration").migrate(cr, "18.0.0.2.0")
        self.env.invalidate_all()
        for kind, rule in rules.items():
            self.assertEqual(self.sent(rule), canonical[kind], kind)
        self.assertEqual(rules["state"].value_map_ids.mapped("reason_code"), [False, "JAM"])
        self.assertEqual(self.sent(loose), {})
        self.assertEqual(self.connection.revision, revision, "the sidecar gets what it got: nothing to reload")
        [note] = self.connection.message_ids[: len(self.connection.message_ids) - messages]
        self.assertIn("note is not a parameter the sidecar reads", note.body)
        self.assertIn("value_map is read by state rules", note.body)
        self.assertIn("kept by hand", note.body)
        # Run twice (a re-run upgrade): the same outcome.
        load_migration("post-migration").migrate(cr, "18.0.0.2.0")
        self.env.invalidate_all()
        self.assertEqual(self.sent(rules["counter"]), canonical["counter"])
