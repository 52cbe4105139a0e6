from functools import partial

import psycopg2

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import ShopfloorCase


@tagged("post_install", "-at_install")
class TestMappings(ShopfloorCase):
    def messages(self):
        return self.connection.message_ids.filtered(lambda m: "Mapping revision" in (m.body or ""))

    def assert_bumped(self, action, expected_text):
        revision = self.connection.revision
        before = len(self.messages())
        action()
        self.assertEqual(self.connection.revision, revision + 1)
        self.assertEqual(len(self.messages()), before + 1)
        body = self.messages()[0].body
        self.assertIn(f"Mapping revision {revision + 1}", body)
        self.assertIn(expected_text, body)

    def test_every_change_bumps_revision_and_posts(self):
        conn = self.connection.id
        # (model, values to create, a change to write)
        cases = [
            (
                "shopfloor.source.map",
                {"source": "plant1/line9/x", "workcenter_id": self.wc_press2.id},
                {"workcenter_id": self.wc_assembly2.id},
            ),
            ("shopfloor.order.map", {"mes_ref": "MES-1", "production_id": self.mo1.id}, {"production_id": self.mo2.id}),
            (
                "shopfloor.operation.map",
                {"operation": "CUT", "operation_id": self.op_cutting.id},
                {"operation_id": self.op_assembly.id},
            ),
            ("shopfloor.material.map", {"code": "BOLT-X", "product_id": self.product_bolt.id}, {"code": "BOLT-Y"}),
            ("shopfloor.uom.map", {"code": "G", "uom_id": self.uom_gram.id}, {"code": "GR"}),
            ("shopfloor.reason.map", {"code": "JAM", "loss_id": self.loss_breakdown.id}, {"open_maintenance": True}),
            (
                "shopfloor.mapping.rule",
                {
                    "kind": "trigger",
                    "protocol": "opcua",
                    "address": "ns=2;s=T",
                    "source": "plant1/line1/press-01",
                    "event_type": "workorder.started",
                },
                {"params_json": '{"fields": {"order": "ns=2;s=Order"}}'},
            ),
        ]

        def create(holder, model, values):
            holder["row"] = self.env[model].create(dict(values, connection_id=conn))

        for model, values, change in cases:
            holder = {}
            self.assert_bumped(partial(create, holder, model, values), "added")
            row = holder["row"]
            self.assertEqual(row.company_id, self.connection.company_id)
            self.assert_bumped(lambda row=row, change=change: row.write(change), f"changed ({next(iter(change))})")
            self.assert_bumped(row.unlink, "removed")

    def test_revision_tracked_in_sidecar_config(self):
        before = self.env["shopfloor.connection"].sidecar_config("test-conn")["revision"]
        self.env["shopfloor.source.map"].create(
            {"connection_id": self.connection.id, "source": "plant1/line1/new", "workcenter_id": self.wc_press1.id}
        )
        after = self.env["shopfloor.connection"].sidecar_config("test-conn")
        self.assertEqual(after["revision"], before + 1)
        self.assertIn({"source": "plant1/line1/new", "workcenter": "L1-PRESS"}, after["sources"])

    def test_csv_import_of_source_map(self):
        # What the standard import does with a CSV: `load` with column names.
        revision = self.connection.revision
        result = self.env["shopfloor.source.map"].load(
            ["connection_id", "source", "workcenter_id"],
            [
                ["Test plant MQTT", "plant1/line2/press-02/aux", "Press 02"],
                ["Test plant MQTT", "plant1/line2/assembly-02/aux", "Assembly 02"],
            ],
        )
        self.assertFalse(result["messages"], result["messages"])
        rows = self.env["shopfloor.source.map"].browse(result["ids"])
        self.assertEqual(rows.mapped("workcenter_id"), self.wc_press2 | self.wc_assembly2)
        self.assertEqual(self.connection.revision, revision + 1, "one import, one revision")

    @mute_logger("odoo.sql_db")
    def test_csv_import_reports_bad_rows(self):
        result = self.env["shopfloor.reason.map"].load(
            ["connection_id", "code", "loss_id"], [["Test plant MQTT", "ZZZ", "No such loss"]]
        )
        self.assertFalse(result["ids"])
        self.assertTrue(any(m["type"] == "error" for m in result["messages"]), result["messages"])

    def test_rule_parameters_checked(self):
        base = {
            "connection_id": self.connection.id,
            "protocol": "opcua",
            "address": "ns=2;s=C",
            "source": "plant1/line1/press-01",
        }
        with self.assertRaisesRegex(ValidationError, "not valid JSON"), self.cr.savepoint():
            self.env["shopfloor.mapping.rule"].create(
                dict(base, kind="trigger", event_type="workorder.started", params_json="{wrap")
            )
        with (
            self.assertRaisesRegex(ValidationError, "must derive production.reported or scrap.reported"),
            self.cr.savepoint(),
        ):
            self.env["shopfloor.mapping.rule"].create(dict(base, kind="counter", event_type="workorder.started"))
        with self.assertRaisesRegex(ValidationError, "unknown event type"), self.cr.savepoint():
            self.env["shopfloor.mapping.rule"].create(dict(base, kind="trigger", event_type="machine.exploded"))

    @mute_logger("odoo.sql_db")
    def test_duplicate_source_refused(self):
        with self.assertRaises(psycopg2.IntegrityError), self.cr.savepoint():
            self.env["shopfloor.source.map"].create(
                {
                    "connection_id": self.connection.id,
                    "source": "plant1/line1/press-01",
                    "workcenter_id": self.wc_press2.id,
                }
            )
