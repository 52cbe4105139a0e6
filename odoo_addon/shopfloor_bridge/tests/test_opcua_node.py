"""OPC UA node ids are checked when a rule or a dispatch target is saved.

The grammar itself is held to the sidecar's reader and to asyncua's and
node-opcua's over generated strings (test/contract/opcua-node-id.int.test.ts);
here: the forms refuse what the floor would not read, naming the field and why.
"""

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from ..opcua_node import endpoint_error, node_id_error, read_node_id
from .common import ShopfloorCase

GOOD = (
    "ns=2;s=[default]Line1/Press03/Good",
    "ns=2;s=Bay;ns=1;i=5",
    "nsu=urn:plant:line1;s=Press03.Count",
    "i=2258",
    "ns=0;i=2258",
    "Server_ServerStatus_CurrentTime",
    "ns=3;g=72962b91-fa75-4ae6-8d28-b404dc7daf63",
    "ns=2;b=AQID",
)
BAD = (
    ("Line1/Press03/Good", "is not an OPC UA node id: write ns=<index>;s=<name>"),
    ("ns=2;i=12abc", 'numeric identifier "12abc" is not a whole number from 0 to 4294967295'),
    ("ns=65536;s=x", 'namespace index "65536" is not a whole number from 0 to 65535'),
    ("ns=2;s=", "string identifier (s=) is empty"),
    ("ns=2;s=Press\t03", "string identifier holds a control character (U+0009)"),
    ("ns=2;q=x", 'identifier type "q" is none of i (number), s (string), g (GUID), b (base64)'),
    ("ns=2;g=72962B91-FA75", "is not of the form 72962B91-FA75-4AE6-8D28-B404DC7DAF63"),
    ("ns=2;b=AQ ID", "is not base64"),
    ("nsu=urn:x", "has no ';' after its namespace URI"),
    ("ns=2", "has no ';' after ns=2"),
    ("", "is empty"),
)


@tagged("post_install", "-at_install")
class TestOpcuaNodeIds(ShopfloorCase):
    def rule(self, address, **values):
        return self.env["shopfloor.mapping.rule"].create(
            {
                "connection_id": self.connection.id,
                "protocol": "opcua",
                "kind": "counter",
                "address": address,
                "source": "plant1/line1/press03",
                "event_type": "production.reported",
                **values,
            }
        )

    def test_grammar(self):
        for text in GOOD:
            with self.subTest(text=text):
                self.assertEqual(node_id_error(text), "")
        self.assertEqual(
            read_node_id("ns=02;g=72962b91-fa75-4ae6-8d28-b404dc7daf63")[0],
            {"namespace": 2, "kind": "g", "identifier": "72962B91-FA75-4AE6-8D28-B404DC7DAF63"},
        )
        self.assertEqual(
            read_node_id("nsu=urn:a;s=x;y")[0], {"namespace_uri": "urn:a", "kind": "s", "identifier": "x;y"}
        )
        self.assertEqual(read_node_id("ObjectsFolder")[1], "ObjectsFolder")
        for text, message in BAD:
            with self.subTest(text=text):
                self.assertIn(message, node_id_error(text))

    def test_rules_refuse_what_is_no_node_id(self):
        for index, text in enumerate(GOOD):
            self.rule(text, kind="state" if index % 2 else "counter")
        for text, message in BAD[:-1]:
            with self.subTest(text=text), self.assertRaises(ValidationError) as caught, self.cr.savepoint():
                self.rule(text)
            self.assertIn(f"Rule {text}: Address: {text!r} ", str(caught.exception))
            self.assertIn(message, str(caught.exception))

    def test_the_tags_a_rule_reads_are_checked_too(self):
        with self.assertRaisesRegex(ValidationError, "Order tag: 'Press03/Order' is not an OPC UA node id"):
            with self.cr.savepoint():
                self.rule("ns=2;s=Press03/Good", order_address="Press03/Order")
        with self.assertRaisesRegex(ValidationError, r"field order: 'ns=2;s=' string identifier \(s=\) is empty"):
            with self.cr.savepoint():
                self.env["shopfloor.mapping.rule"].create(
                    {
                        "connection_id": self.connection.id,
                        "protocol": "opcua",
                        "kind": "trigger",
                        "address": "ns=2;s=Press03/Start",
                        "source": "plant1/line1/press03",
                        "event_type": "workorder.started",
                        "field_ids": [(0, 0, {"name": "order", "source": "tag", "address": "ns=2;s="})],
                    }
                )
        rule = self.rule("ns=2;s=Press03/Good", order_address="ns=2;s=Press03/Order")
        self.assertEqual(rule.order_address, "ns=2;s=Press03/Order")
        # Other protocols keep their own addresses: a Sparkplug metric is no node id.
        self.rule("plant1/line1/press03/Count", protocol="sparkplug")

    def test_dispatch_targets_check_the_node_ids_they_make(self):
        Target = self.env["shopfloor.dispatch.target"]
        values = {"connection_id": self.connection.id, "workcenter_id": self.wc_press2.id, "kind": "opcua"}
        with self.assertRaisesRegex(ValidationError, "Slot node ids .* does not make an OPC UA node id: 'ns=x;s="):
            with self.cr.savepoint():
                Target.create(dict(values, opcua_node_template="ns=x;s={line}/Queue/{slot}/{field}"))
        with self.assertRaisesRegex(ValidationError, "Version node 'Line2/Version' does not make an OPC UA node id"):
            with self.cr.savepoint():
                Target.create(dict(values, opcua_version_node="Line2/Version"))
        # {line} is the work center's code: a numeric node id of it is no number.
        with self.assertRaisesRegex(ValidationError, "Queue JSON node .*numeric identifier"):
            with self.cr.savepoint():
                Target.create(dict(values, opcua_json_node="ns=2;i={line}", line_code="L2"))
        target = Target.create(dict(values, line_code="Line2", opcua_version_node="nsu=urn:plant;s=Line2/Version"))
        self.assertEqual(target._sidecar_params()["version"], "nsu=urn:plant;s=Line2/Version")

    def test_a_rule_of_a_protocol_the_connection_does_not_read_is_flagged(self):
        mqtt_rule = self.rule("ns=2;s=Press03/Good")
        self.assertEqual(
            mqtt_rule.never_read,
            "Connection test-conn is MQTT (JSON CloudEvents): its sidecar reads no OPC UA tag, so this rule is never "
            "read. Move it to a connection of that protocol, or make it a mapped payload value.",
        )
        # Shown at the top of the rule's and the connection's forms.
        self.assertEqual(Form(mqtt_rule).never_read, mqtt_rule.never_read)
        self.assertEqual(Form(self.connection).rules_never_read, self.connection.rules_never_read)
        self.assertIn("1 tag rule(s) are never read", self.connection.rules_never_read)
        self.assertIn("(ns=2;s=Press03/Good)", self.connection.rules_never_read)
        payload = self.rule("plant1/line1/press03/Count", protocol="payload")
        self.assertFalse(payload.never_read)
        opcua = self.env["shopfloor.connection"].create(
            {"code": "ua-read", "name": "UA", "kind": "opcua", "opcua_endpoint": "opc.tcp://h:4840"}
        )
        mqtt_rule.connection_id = opcua
        self.assertFalse(mqtt_rule.never_read)
        self.assertFalse(self.connection.rules_never_read)
        self.assertFalse(opcua.rules_never_read)

    def test_endpoints(self):
        for url in (
            "opc.tcp://plc-gw:4840",
            "opc.tcp://10.0.0.5",
            "opc.tcp://[::1]:4840/UA/Line1",
            "opc.tcp://h:62541/",
        ):
            with self.subTest(url=url):
                self.assertEqual(endpoint_error(url), "")
        for url, message in (
            ("localhost:4840", '"localhost:4840" is not an OPC UA endpoint: write opc.tcp://plc-gateway:4840'),
            ("http://h:4840", "is not an OPC UA endpoint"),
            ("opc.tcp://", "is not an OPC UA endpoint"),
            ("opc.tcp://h:4840/a b", "is not an OPC UA endpoint"),
            ("opc.tcp://h:4840\n", "is not an OPC UA endpoint"),
            ("opc.tcp://h:70000", "port 70000 is not a TCP port (1 to 65535)"),
            ("opc.tcp://h:0", "port 0 is not a TCP port"),
        ):
            with self.subTest(url=url):
                self.assertIn(message, endpoint_error(url))
        with self.assertRaisesRegex(ValidationError, 'Connection ua-bad: OPC UA endpoint: "localhost:4840" is not an'):
            with self.cr.savepoint():
                self.env["shopfloor.connection"].create(
                    {"code": "ua-bad", "name": "UA", "kind": "opcua", "opcua_endpoint": "localhost:4840"}
                )
        values = {"connection_id": self.connection.id, "workcenter_id": self.wc_press2.id, "kind": "opcua"}
        with self.assertRaisesRegex(ValidationError, 'OPC UA endpoint: "opc.tcp://gw:99999": port 99999'):
            with self.cr.savepoint():
                self.env["shopfloor.dispatch.target"].create(dict(values, opcua_endpoint="opc.tcp://gw:99999"))
