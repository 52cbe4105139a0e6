"""Sparkplug B rule addresses are checked when a rule is saved: group/edge node/device/metric, of the
group the connection's host reads (it reads no other)."""

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from ..topic_filter import sparkplug_address_error
from .common import ShopfloorCase


@tagged("post_install", "-at_install")
class TestSparkplugAddresses(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.env["shopfloor.connection"].create(
            {
                "code": "spb-rules",
                "name": "SpB",
                "kind": "sparkplug",
                "mqtt_url": "mqtt://b",
                "sparkplug_group_id": "Plant1",
            }
        )

    def rule(self, address, connection=None, **values):
        return self.env["shopfloor.mapping.rule"].create(
            {
                "connection_id": (connection or self.host).id,
                "protocol": "sparkplug",
                "kind": "counter",
                "address": address,
                "source": "plant1/line1/press03",
                "event_type": "production.reported",
                **values,
            }
        )

    def test_grammar(self):
        for address in ("Plant1/Edge/Press03/Count", "Plant1/Edge//Count", "Plant1/Edge/Press03/Folder/Sub/Count"):
            with self.subTest(address=address):
                self.assertEqual(sparkplug_address_error(address, "Plant1"), "")
        for address, message in (
            ("Plant1/Edge/Count", "is not a Sparkplug B metric address: write group/edge node/device/metric"),
            ("Plant1/Edge/Press03/", "is not a Sparkplug B metric address"),
            ("", "is not a Sparkplug B metric address"),
            ("/Edge/Press03/Count", "its group id '' must be set"),
            ("Plant1//Press03/Count", "its edge node id '' must be set"),
            ("Plant1/Ed+ge/Press03/Count", "its edge node id 'Ed+ge' must be set, without / + #"),
            ("Plant1/Edge/Press#/Count", "its device id 'Press#'"),
            ("Plant1/Edge\x85/Press03/Count", "(here U+0085)"),
            (
                "Plant2/Edge/Press03/Count",
                "is a metric of group 'Plant2', and the connection's host reads group 'Plant1'",
            ),
        ):
            with self.subTest(address=address):
                self.assertIn(message, sparkplug_address_error(address, "Plant1"))
        # Without a group (a connection that is no Sparkplug host), any group's metric is well formed.
        self.assertEqual(sparkplug_address_error("Plant2/Edge/Press03/Count"), "")

    def test_rules_refuse_what_the_host_never_reads(self):
        self.rule("Plant1/Edge/Press03/Count", order_address="Plant1/Edge/Press03/Order")
        with self.assertRaisesRegex(ValidationError, "Rule Plant1/Edge/Count: Address: 'Plant1/Edge/Count' is not a"):
            with self.cr.savepoint():
                self.rule("Plant1/Edge/Count")
        with self.assertRaisesRegex(ValidationError, "Order tag: 'Plant2/Edge/Press03/Order' is a metric of group"):
            with self.cr.savepoint():
                self.rule("Plant1/Edge/Press03/Good", order_address="Plant2/Edge/Press03/Order")
        with self.assertRaisesRegex(ValidationError, "field order: 'Order' is not a Sparkplug B metric address"):
            with self.cr.savepoint():
                self.env["shopfloor.mapping.rule"].create(
                    {
                        "connection_id": self.host.id,
                        "protocol": "sparkplug",
                        "kind": "trigger",
                        "address": "Plant1/Edge/Press03/Done",
                        "source": "plant1/line1/press03",
                        "event_type": "workorder.completed",
                        "field_ids": [(0, 0, {"name": "order", "source": "tag", "address": "Order"})],
                    }
                )

    def test_the_host_group_cannot_leave_its_rules_behind(self):
        self.rule("Plant1/Edge/Press03/Count")
        with self.assertRaisesRegex(
            ValidationError, "reads Sparkplug group Plant9 only, and rules Plant1/Edge/Press03/Count read metrics"
        ):
            with self.cr.savepoint():
                self.host.sparkplug_group_id = "Plant9"
        self.assertEqual(self.host.sparkplug_group_id, "Plant1")

    def test_a_new_rule_takes_the_protocol_its_connection_reads(self):
        form = Form(self.env["shopfloor.mapping.rule"])
        form.connection_id = self.host
        self.assertEqual(form.protocol, "sparkplug")
        # An MQTT connection reads no tags: the values its payload mappings yield.
        form.connection_id = self.connection
        self.assertEqual(form.protocol, "payload")
        rule = self.env["shopfloor.mapping.rule"].create(
            {
                "connection_id": self.host.id,
                "kind": "counter",
                "address": "Plant1/Edge/Press03/Count",
                "source": "plant1/line1/press03",
                "event_type": "production.reported",
            }
        )
        self.assertEqual(rule.protocol, "sparkplug")
        self.assertFalse(rule.never_read)
