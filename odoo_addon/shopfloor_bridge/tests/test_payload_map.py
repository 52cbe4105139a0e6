"""Payload mappings: revision and chatter, checks, sidecar_config, the DLQ round trip."""

import base64
import json
import re

import psycopg2

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from ..topic_filter import (
    id_field_error,
    id_fields_error,
    mqtt_filter_error,
    route_error,
    split_id_fields,
    topic_matches,
)
from .common import ShopfloorCase

KEPWARE = {"timestamp": 1764500000000, "values": [{"id": "Channel1.Device1.Count", "v": 120, "q": True}]}


@tagged("post_install", "-at_install")
class TestTopicFilter(ShopfloorCase):
    """The MQTT matching the module shares with the sidecar (MQTT 5 §4.7)."""

    def test_matching_table(self):
        cases = [
            ("plant1/line1/count", "plant1/line1/count", True),
            ("plant1/line1/count", "plant1/line1/count/x", False),
            ("plant1/+/count", "plant1/line1/count", True),
            ("plant1/+/count", "plant1/line1/x/count", False),
            ("plant1/+", "plant1", False),
            ("plant1/+", "plant1/", True),  # an empty level is a level
            ("plant1/#", "plant1", True),  # '#' includes the parent level
            ("plant1/#", "plant1/a/b/c", True),
            ("plant1/#", "plant2/a", False),
            ("#", "anything/at/all", True),
            ("#", "$SYS/broker/uptime", False),
            ("+/broker/uptime", "$SYS/broker/uptime", False),
            ("$SYS/#", "$SYS/broker/uptime", True),
            ("$SYS/+/uptime", "$SYS/broker/uptime", True),
            ("+/+", "/a", True),
            ("a/b", "A/b", False),  # case matters
            ("+", "", False),  # no topic is empty
            ("a/+", "a/+", False),  # nor holds a wildcard
            ("#", "a/#", False),
            ("sport/tennis/+", "sport/tennis/player1/ranking", False),
            ("sport/+/player1", "sport/tennis/player1", True),
        ]
        for pattern, topic, expected in cases:
            with self.subTest(pattern=pattern, topic=topic):
                self.assertEqual(mqtt_filter_error(pattern), "")
                self.assertIs(topic_matches(pattern, topic), expected)

    def test_filter_syntax(self):
        for bad in ("", "a/#/b", "a/b#", "a+/b", "a/+b", "#/a", "a\x00b"):
            with self.subTest(pattern=bad):
                self.assertTrue(mqtt_filter_error(bad))
        for good in ("a", "/", "a//b", "+", "#", "+/+/#", "$SYS/#", "plant 1/line-1"):
            with self.subTest(pattern=good):
                self.assertEqual(mqtt_filter_error(good), "")

    def test_route_syntax(self):
        for bad in ("", "/mes", "mes/", "mes//x", "mes\tx", "mes/a#", "#/x", "m+/x", "r" * 257, "mes\x7f", "mes\x9f"):
            with self.subTest(route=bad):
                self.assertTrue(route_error(bad))
        for good in ("mes", "mes/completions", "mes/+/done", "mes/#", "kepware.line-1~a", "line 1/é", "a\xa0b"):
            with self.subTest(route=good):
                self.assertEqual(route_error(good), "")
        # U+0085 (NEL) is a C1 control character: refused as the sidecar's intake refuses it.
        self.assertEqual(
            route_error("line\x851"), "a route holds no control characters (U+0000 to U+001F, U+007F to U+009F)"
        )
        self.assertTrue(topic_matches("mes/+/done", "mes/line1/done"))

    def test_id_fields(self):
        self.assertEqual(split_id_fields("source\n type, data.order ,\n\n"), ["source", "type", "data.order"])
        self.assertEqual(split_id_fields(False), [])
        self.assertEqual(id_fields_error("source\r\n\tdata.order, type\t\n"), "")
        self.assertEqual(id_field_error("data.values.0.id"), "")
        for bad in ("data..order", ".data", "data.", "data order", "$topic", "1st"):
            with self.subTest(path=bad):
                self.assertTrue(id_field_error(bad))


@tagged("post_install", "-at_install")
class TestPayloadMap(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, "pm-manager", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager"
        )
        cls.bridge_user = new_test_user(
            cls.env, "pm-user", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )

    def make_map(self, **values):
        return self.env["shopfloor.payload.map"].create(
            {
                "connection_id": self.connection.id,
                "name": "Kepware line 1",
                "match": "kepware/#",
                "expression": "values.{'address': id, 'value': v}",
                "kind": "values",
                **values,
            }
        )

    def notes(self):
        return self.connection.message_ids.filtered(lambda m: "Mapping revision" in (m.body or ""))

    def reject_raw(self, origin, raw, reason="not a CloudEvent"):
        """A payload the sidecar could not read as an event, sent as it sends it."""
        item = {
            "rejected": True,
            "id": f"rej-{abs(hash((origin, raw))):x}",
            "source": origin,
            "connection": "test-conn",
            "raw_b64": base64.b64encode(raw).decode(),
            "raw_size": len(raw),
            "truncated": False,
            "reason": reason,
            "observedtime": self.iso(self.at(1)),
        }
        [result] = self.ingest(item)
        self.assertEqual(result["status"], "rejected")
        return self.env["shopfloor.event"].browse(result["event_id"])

    # -- revision, chatter, checks ------------------------------------------------

    def test_create_write_unlink_bump_revision_with_chatter(self):
        start = self.connection.revision
        mapping = self.make_map()
        self.assertEqual(self.connection.revision, start + 1)
        self.assertEqual(mapping.last_revision, start + 1)
        self.assertIn("Payload mapping added: Kepware line 1 (mqtt kepware/#)", self.notes()[0].body)
        mapping.expression = "values.{'address': id, 'value': v * 2}"
        self.assertEqual((self.connection.revision, mapping.last_revision), (start + 2, start + 2))
        self.assertIn("changed (expression)", self.notes()[0].body)
        mapping.unlink()
        self.assertEqual(self.connection.revision, start + 3)
        self.assertIn("removed", self.notes()[0].body)

    def test_sample_payload_moves_no_revision(self):
        mapping = self.make_map()
        revision = self.connection.revision
        mapping.sample_payload = json.dumps(KEPWARE)
        self.assertEqual(self.connection.revision, revision, "the sidecar never reads the sample")
        mapping.write({"sample_payload": "{}", "sequence": 3})
        self.assertEqual(self.connection.revision, revision + 1)

    def test_checks_with_clear_messages(self):
        cases = [
            ({"match": "kepware/#/x"}, "'#' must be a whole level and the last one"),
            ({"match": "kepware+"}, "'+' must be a whole level"),
            # Mosquitto drops the sidecar's connection for it: every mapping and topic stops.
            ({"match": "kepware/\x85/#"}, "may not hold a control character, a Unicode non-character"),
            ({"match": "kepware/\ufdef"}, "(here U+FDEF)"),
            ({"transport": "http", "match": "/routes/mes"}, "no leading or trailing '/'"),
            ({"transport": "http", "match": "mes//done"}, "no empty level"),
            ({"expression": "   "}, "needs an expression"),
            ({"id_fields": "source\ndata..order"}, "is not a dotted path"),
            # U+0085 and U+001E split a line for Python: two valid paths nobody wrote.
            ({"id_fields": "source\ndata.or\x85der"}, "line 2 holds a control character (U+0085)"),
            ({"id_fields": "data.order\x1e"}, "line 1 holds a control character (U+001E)"),
        ]
        for values, message in cases:
            with self.subTest(values=values), self.assertRaisesRegex(ValidationError, re.escape(message)):
                self.make_map(**values)

    def test_preset_fills_the_form(self):
        preset = self.env["shopfloor.payload.preset"].create(
            {
                "code": "test-kepware",
                "name": "Kepware IoT Gateway (test)",
                "kind": "values",
                "transport": "mqtt",
                "match": "iotgateway/#",
                "expression": "values.{'address': id, 'value': v}",
                "payload_format": "json",
                "sample_payload": json.dumps(KEPWARE),
            }
        )
        with Form(self.env["shopfloor.payload.map"].with_context(default_connection_id=self.connection.id)) as form:
            form.preset_id = preset
            self.assertEqual(form.expression, preset.expression)
            self.assertEqual(form.match, "iotgateway/#")
            self.assertEqual(form.name, "Kepware IoT Gateway (test)")
        mapping = form.record
        self.assertEqual((mapping.kind, mapping.sample_payload), ("values", preset.sample_payload))
        # A mapping made from a rejected payload keeps its own match and sample.
        with Form(
            self.env["shopfloor.payload.map"].with_context(
                default_connection_id=self.connection.id, default_match="plant1/kepware", default_sample_payload="{}"
            )
        ) as form:
            form.name = "Mine"
            form.preset_id = preset
        self.assertEqual((form.record.match, form.record.sample_payload), ("plant1/kepware", "{}"))
        with self.assertRaisesRegex(ValidationError, "suggested match"):
            preset.match = "a/#/b"

    def test_preset_codes_are_unique(self):
        values = {"code": "dup", "name": "A", "expression": "$"}
        self.env["shopfloor.payload.preset"].create(values)
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            self.env["shopfloor.payload.preset"].create(values)

    # -- sidecar_config ----------------------------------------------------------

    def test_sidecar_config_payload_maps_match_the_contract(self):
        second = self.make_map(name="UNS", match="plant1/+/+/GoodCount", payload_format="text", sequence=20)
        first = self.make_map(
            name="MES",
            kind="events",
            transport="http",
            match="mes/completions",
            expression="$",
            id_fields="source\ntype, data.order",
            sequence=5,
        )
        self.make_map(name="Off", active=False)
        config = self.env["shopfloor.connection"].sidecar_config("test-conn")
        self.assertEqual(
            config["payload_maps"],
            [
                {
                    "id": first.id,
                    "name": "MES",
                    "kind": "events",
                    "transport": "http",
                    "match": "mes/completions",
                    "expression": "$",
                    "id_fields": ["source", "type", "data.order"],
                    "payload_format": "json",
                    "revision": first.last_revision,
                },
                {
                    "id": second.id,
                    "name": "UNS",
                    "kind": "values",
                    "transport": "mqtt",
                    "match": "plant1/+/+/GoodCount",
                    "expression": "values.{'address': id, 'value': v}",
                    "id_fields": [],
                    "payload_format": "text",
                    "revision": second.last_revision,
                },
            ],
        )
        self.assertEqual(config["revision"], self.connection.revision)

    def test_rule_protocol_payload_and_value_params(self):
        rule = self.env["shopfloor.mapping.rule"].create(
            {
                "connection_id": self.connection.id,
                "kind": "counter",
                "protocol": "payload",
                "address": "Channel1.Device1.Count",
                "source": "plant1/line1/press-01",
                "event_type": "production.reported",
                "params_json": json.dumps({"scale": 0.5, "offset": -2, "unit": "PCS"}),
            }
        )
        [sent] = [
            r for r in self.env["shopfloor.connection"].sidecar_config("test-conn")["rules"] if r["id"] == rule.id
        ]
        self.assertEqual((sent["protocol"], sent["params"]), ("payload", {"scale": 0.5, "offset": -2, "unit": "PCS"}))
        bad = [
            ({"scale": "2"}, "scale must be a number"),
            ({"offset": True}, "offset must be a number"),
            ({"scale": 0}, "a scale of 0"),
            ({"unit": 3}, "unit must be the floor unit as text"),
            ({"unit": " "}, "unit must be the floor unit as text"),
        ]
        for params, message in bad:
            with self.subTest(params=params), self.assertRaisesRegex(ValidationError, message):
                rule.params_json = json.dumps(params)
        with self.assertRaisesRegex(ValidationError, "offset must be a number"):
            rule.params_json = '{"offset": NaN}'
        rule.params_json = '{"scale": null, "offset": null}'

    # -- access ------------------------------------------------------------------

    def test_users_read_managers_write(self):
        mapping = self.make_map()
        as_user = mapping.with_user(self.bridge_user)
        self.assertEqual(as_user.read(["name"])[0]["name"], "Kepware line 1")
        with self.assertRaises(AccessError):
            as_user.write({"expression": "$"})
        with self.assertRaises(AccessError):
            as_user.rejected_candidates(5)
        with self.assertRaises(AccessError):
            self.env["shopfloor.payload.map"].with_user(self.bridge_user).check_events([])
        mapping.with_user(self.manager).write({"expression": "$"})

    def test_other_company_mappings_are_invisible(self):
        other = self.env["res.company"].create({"name": "Other plant"})
        connection = self.env["shopfloor.connection"].create(
            {"code": "other-conn", "name": "Other", "company_id": other.id}
        )
        theirs = self.make_map(connection_id=connection.id, name="Theirs")
        self.assertEqual(theirs.company_id, other)
        visible = self.env["shopfloor.payload.map"].with_user(self.manager).search([("name", "=", "Theirs")])
        self.assertFalse(visible)

    # -- DLQ ---------------------------------------------------------------------

    def test_create_mapping_from_a_rejected_payload(self):
        raw = json.dumps(KEPWARE).encode()
        rejected = self.reject_raw("kepware/line1", raw)
        action = rejected.with_user(self.manager).action_create_payload_map()
        self.assertEqual(action["res_model"], "shopfloor.payload.map")
        context = action["context"]
        self.assertEqual(context["default_connection_id"], self.connection.id)
        self.assertEqual((context["default_transport"], context["default_match"]), ("mqtt", "kepware/line1"))
        self.assertEqual(json.loads(context["default_sample_payload"]), KEPWARE)
        self.assertEqual(context["default_payload_format"], "json")
        # An HTTP route: the connection subscribes to no topic it matches and has an HTTP intake.
        self.connection.write({"http_enabled": True, "topic_filters": "kepware/#"})
        routed = self.reject_raw("mes/completions", b"120")
        context = routed.action_create_payload_map()["context"]
        self.assertEqual((context["default_transport"], context["default_payload_format"]), ("http", "json"))
        text = self.reject_raw("mes/state", b"RUNNING")
        self.assertEqual(text.action_create_payload_map()["context"]["default_payload_format"], "text")
        # A topic the sidecar subscribes to for an MQTT mapping (whose mapping failed) is MQTT too.
        self.make_map(name="UNS", match="uns/#")
        uns = self.reject_raw("uns/line1/count", b"not a number")
        self.assertEqual(uns.action_create_payload_map()["context"]["default_transport"], "mqtt")
        with self.assertRaises(AccessError):
            rejected.with_user(self.bridge_user).action_create_payload_map()

    def test_rejected_candidates_match_transport_and_pattern(self):
        mapping = self.make_map(match="kepware/+")
        older = self.reject_raw("kepware/line1", b'{"values": []}')
        newer = self.reject_raw("kepware/line2", json.dumps(KEPWARE).encode())
        self.reject_raw("kepware/line1/extra", b"{}")
        self.reject_raw("uns/line1", b"1")
        self.reject_raw("kepware/line3", b"\xff\xfe not UTF-8", reason="payload is not valid UTF-8")
        # A CloudEvent that failed validation is not a payload to map.
        self.ingest(self.make_event("workorder.started", {}))
        found = mapping.rejected_candidates(10)
        self.assertEqual([row["event_id"] for row in found], [newer.id, older.id])
        self.assertEqual(json.loads(found[0]["raw_text"]), KEPWARE)
        self.assertEqual(base64.b64decode(found[0]["raw_b64"]), json.dumps(KEPWARE).encode())
        self.assertEqual(found[0]["origin"], "kepware/line2")
        self.assertEqual(found[0]["reason"], "not a CloudEvent")
        self.assertEqual(len(mapping.rejected_candidates(1)), 1)
        mapping.transport = "http"
        mapping.match = "kepware/+"
        self.assertEqual(mapping.rejected_candidates(10), [], "MQTT payloads are no HTTP mapping's candidates")

    def completed(self, qty, uid="k-1"):
        return {
            "specversion": "1.0",
            "id": uid,
            "source": "plant1/line1/press-01",
            "type": "production.reported",
            "time": self.iso(self.at(2)),
            "data": {"order": self.mo1.name, "qty_good": qty},
        }

    def test_remap_rejected_applies_and_closes(self):
        mapping = self.make_map(kind="events", expression="$")
        rejected = self.reject_raw("kepware/line1", json.dumps(KEPWARE).encode())
        [answer] = (
            self.env["shopfloor.event"]
            .with_user(self.manager)
            .remap_rejected(mapping.id, [{"event_id": rejected.id, "events": [self.completed(12)]}])
        )
        self.assertEqual(answer["status"], "remapped", answer)
        made = self.env["shopfloor.event"].browse(answer["event_ids"])
        self.assertEqual((made.state, made.event_uid), ("applied", "k-1"))
        self.assertEqual(made.sidecar_mapping_revision, self.connection.revision)
        self.assertEqual(made.connection_id, self.connection)
        self.assertEqual(self.mo1.qty_producing, 12)
        self.assertEqual(rejected.state, "discarded")
        self.assertEqual(
            rejected.discard_reason,
            f"re-mapped by mapping Kepware line 1 rev {self.connection.revision} into k-1",
        )
        self.assertIn("remap", rejected.history_ids.mapped("action"))
        self.assertIn(rejected.event_uid, made.history_ids.filtered(lambda h: h.action == "remapped_from").note)
        # Again: the rejected row is closed; the same events resent by the sidecar are duplicates.
        [again] = self.env["shopfloor.event"].remap_rejected(
            mapping.id, [{"event_id": rejected.id, "events": [self.completed(12)]}]
        )
        self.assertEqual((again["status"], again["event_ids"]), ("skipped", []))
        self.assertIn("re-mapped already", again["error"])
        [resent] = self.ingest(dict(self.completed(12), connection="test-conn"))
        self.assertEqual(resent["status"], "duplicate")
        self.assertEqual(self.mo1.qty_producing, 12)

    def test_remap_rejected_invalid_event_changes_nothing(self):
        mapping = self.make_map(kind="events", expression="$")
        rejected = self.reject_raw("kepware/line1", json.dumps(KEPWARE).encode())
        count = self.env["shopfloor.event"].search_count([])
        bad = dict(self.completed(5), type="production.bogus")
        [answer] = self.env["shopfloor.event"].remap_rejected(
            mapping.id, [{"event_id": rejected.id, "events": [self.completed(5, "ok-1"), bad]}]
        )
        self.assertEqual(answer["status"], "invalid")
        self.assertIn("Event 2", answer["error"])
        self.assertIn("unknown event type 'production.bogus'", answer["error"])
        self.assertEqual(self.env["shopfloor.event"].search_count([]), count, "no event of the item was stored")
        self.assertEqual(rejected.state, "rejected")
        self.assertEqual(self.mo1.qty_producing, 0)

    def test_remap_rejected_zero_events_consumes_and_guards(self):
        mapping = self.make_map(kind="events", expression="[]")
        rejected = self.reject_raw("kepware/line1", b"{}")
        other = self.env["res.company"].create({"name": "Elsewhere"})
        foreign_conn = self.env["shopfloor.connection"].create({"code": "else", "name": "Else", "company_id": other.id})
        answers = self.env["shopfloor.event"].remap_rejected(
            mapping.id,
            [
                {"event_id": rejected.id, "events": []},
                {"event_id": 0, "events": []},
                {"event_id": rejected.id, "events": "nope"},
            ],
        )
        self.assertEqual([a["status"] for a in answers], ["remapped", "skipped", "skipped"])
        self.assertIn("into no events", rejected.discard_reason)
        for answer in answers:
            self.assertTrue(all(value is not None for value in answer.values()))
        with self.assertRaisesRegex(UserError, "list of"):
            self.env["shopfloor.event"].remap_rejected(mapping.id, "x")
        with self.assertRaisesRegex(UserError, "No payload mapping"):
            self.env["shopfloor.event"].remap_rejected(999999, [])
        with self.assertRaises(AccessError):
            self.env["shopfloor.event"].with_user(self.bridge_user).remap_rejected(mapping.id, [])
        # A payload of the connection the mapping does not match is not its to re-map.
        elsewhere = self.reject_raw("uns/line1/count", b"5")
        [answer] = self.env["shopfloor.event"].remap_rejected(mapping.id, [{"event_id": elsewhere.id, "events": []}])
        self.assertEqual(answer["status"], "skipped")
        self.assertIn("does not take payloads from uns/line1/count", answer["error"])
        self.assertEqual(elsewhere.state, "rejected")
        # Nor one of another connection, even where the pattern matches.
        foreign = (
            self.env["shopfloor.event"]
            .sudo()
            ._ingest_for(
                foreign_conn,
                [
                    {
                        "rejected": True,
                        "id": "rej-foreign",
                        "source": "kepware/line1",
                        "connection": "else",
                        "raw_b64": "e30=",
                        "raw_size": 2,
                        "truncated": False,
                        "reason": "x",
                        "observedtime": self.iso(self.at(1)),
                    }
                ],
            )[0]["event_id"]
        )
        [answer] = self.env["shopfloor.event"].remap_rejected(mapping.id, [{"event_id": foreign, "events": []}])
        self.assertEqual(answer["status"], "skipped")
        self.assertIn("not a rejected payload of connection test-conn", answer["error"])
        mapping.active = False
        with self.assertRaisesRegex(UserError, "archived"):
            self.env["shopfloor.event"].remap_rejected(mapping.id, [])

    def test_check_events_reports_per_event(self):
        answers = (
            self.env["shopfloor.payload.map"]
            .with_user(self.manager)
            .check_events([self.completed(1), {"specversion": "1.0"}, "text"])
        )
        self.assertEqual([a["ok"] for a in answers], [True, False, False])
        self.assertEqual(answers[0]["error"], "")
        self.assertIn("'id' is a required property", answers[1]["error"])
        self.assertIn("must be a JSON object", answers[2]["error"])
