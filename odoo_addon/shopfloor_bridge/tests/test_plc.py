"""Directly polled PLC connections (Modbus TCP, Siemens S7, EtherNet/IP): fields, checks, sidecar_config,
and the per-protocol address check of their tag rules."""

import re

from odoo.exceptions import ValidationError
from odoo.tests import Form, new_test_user, tagged

from .. import plc
from .common import ShopfloorCase

INTEGRATION = "shopfloor_bridge.shopfloor_bridge_group_integration"
PLC_KEYS = {"host", "port", "unit_id", "rack", "slot", "poll_interval_ms", "timeout_ms"}

# Addresses each driver reads and samples it refuses, from the drivers' grammar (sidecar/src/sources/plc/
# {modbus,s7,enip}/address.ts, sources/plc/README.md): the check on save must agree with the parser at runtime.
GOOD_ADDRESSES = {
    "modbus": [
        "hr100",
        "hr100:float32:CDAB",
        "HR0:uint16",
        "holding7:int32:BADC",
        "ir7:int16",
        "input3",
        "hr40:uint64:DCBA",
        "hr65535",
        "hr65534:int32",
        "coil5",
        "co1",
        "di0:bool",
        "discrete9",
        "hr200:string10",
        "hr12.3",
        "hr12.15:bool",
        "40101",
        "40101:float32:CDAB",
        "400001",
        "465536",
        "30001:int16",
        "10001",
        "00001",
        " hr1 ",
    ],
    "s7": [
        "DB10,REAL8",
        "DB10,INT4",
        "DB1,X0.3",
        "DB10,S20.30",
        "DB10,WS40.10",
        "DB10, DINT12",
        "db5,lreal0",
        "DB3,BYTE7",
        "DB3,B7",
        "DB3,WORD2",
        "DB3,DWORD4",
        "DB3,CHAR9",
        "DB3,ULINT8",
        "DB10.DBW4",
        "DB10.DBX0.1",
        "DB10.DBD8",
        "MW10",
        "M0.1",
        "MX3.7",
        "MB4",
        "MD8",
        "MR12",
        "IB0",
        "I0.0",
        "E1.2",
        "QW4",
        "QD4",
        "Q1.7",
        "A2.0",
    ],
    "enip": [
        "Counter",
        "Program:Main.Count",
        "program:MainProgram.Counter",
        "Counts[3]",
        "Line.Good",
        "Grid[1,2]",
        "Cube[1, 2, 3]",
        "Flags.3",
        "Wide.63",
        "Line.Stations[2].Good",
        "_Private",
        "A" * 40,
    ],
}
BAD_ADDRESSES = {
    "modbus": [
        ("", "the address is empty"),
        ("hr:100", "write the offset right after the area, without ':' (hr100)"),
        ("hx100", "unknown area 'hx'"),
        ("hr", "expected an area (hr, ir, coil, di) and a 0-based offset"),
        ("hr70000", "offset 70000 is past 65535"),
        ("hr65535:int32", "2 registers from 65535 run past address 65535"),
        ("hr1:float16", "unknown type 'float16'"),
        ("coil1:float32", "area coil holds a bool, not float32"),
        ("hr1.3:int16", "a register bit holds a bool, not int16"),
        ("hr1.16", "a register bit is 0 to 15"),
        ("coil1.2", "area coil is bits already"),
        ("hr1:float32:WXYZ", "unknown byte order 'WXYZ'"),
        ("hr1:int32:ABCD:x", "at most AREA+OFFSET, a type and a byte order"),
        ("coil1:bool:ABCD", "a bool has no byte order"),
        ("hr1:string0", "a string is string<N>"),
        ("hr1:string126", "a string is string<N>"),
        ("50001", "expected an area"),
        ("40000", "a classic register number runs from 1 (40001)"),
        ("hr1.2.3", "one '.' at most"),
    ],
    "s7": [
        ("DB0,INT4", "the DB number must be 1 to 65535"),
        ("DB70000,INT4", "the DB number must be 1 to 65535"),
        ("DB10,FOO4", "unknown type FOO"),
        ("DB10,X0.8", "bit 8 does not exist"),
        ("DB10,X4", "a BOOL needs its bit"),
        ("DB10,S20", "a STRING needs its declared length"),
        ("DB10,S20.300", "a STRING holds 1 to 254 characters"),
        ("DB10,INT4.1", "a INT has no .1 part"),
        ("DB10", "a data block address is DB<number>,<type><byte>"),
        ("DB10,", "a data block address is DB<number>,<type><byte>"),
        ("M0.9", "bit 9 does not exist"),
        ("M4", "a bit needs its number (M0.1)"),
        ("ZW10", "not an S7 address"),
        ("MW", "not an S7 address"),
        ("MB2097152", "beyond what an S7 address reaches"),
    ],
    "enip": [
        ("Line Good", "is not a Logix name"),
        ("3Count", "is not a Logix name"),
        ("Program:Main", "a program tag is Program:<program>.<tag>"),
        ("Program:9x.Count", "program '9x' is not a Logix name"),
        ("Counts[a]", "index 'a' in 'Counts[a]' is not a whole number"),
        ("Counts[3", "has no closing ]"),
        ("Grid[1,2,3,4]", "more than 3 dimensions"),
        ("Line..Good", "an empty name between dots"),
        ("Flags.64", "bit 64 is beyond 63"),
        ("A" * 41, "is longer than 40 characters"),
    ],
}


@tagged("post_install", "-at_install")
class TestPlcConnection(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sidecar = new_test_user(cls.env, "plc-sidecar", groups=INTEGRATION)

    def make(self, kind, code=None, **values):
        return self.env["shopfloor.connection"].create(
            {"code": code or f"plc-{kind}", "name": f"PLC {kind}", "kind": kind, "plc_host": "192.168.0.10", **values}
        )

    def config_of(self, connection):
        connection.integration_user_ids = [(4, self.sidecar.id)]
        return self.env["shopfloor.connection"].with_user(self.sidecar).sidecar_config(connection.code)

    # ------------------------------------------------------------------ sidecar_config

    def test_plc_block_per_kind(self):
        modbus = self.make("modbus", plc_host=" plc1.plant ", plc_port=5020, plc_unit_id=17, plc_poll_interval_ms=250)
        config = self.config_of(modbus)
        self.assertEqual(config["kind"], "modbus")
        self.assertEqual(
            config["plc"],
            {
                "host": "plc1.plant",
                "port": 5020,
                "unit_id": 17,
                "rack": 0,
                "slot": 0,
                "poll_interval_ms": 250,
                "timeout_ms": 2000,
            },
        )
        self.assertEqual((config["mqtt"], config["opcua"], config["backbone"]), (False, False, False))
        s7 = self.make("s7", plc_rack=0, plc_slot=2, plc_timeout_ms=500)
        self.assertEqual(
            self.config_of(s7)["plc"],
            {
                "host": "192.168.0.10",
                "port": 0,
                "unit_id": 1,
                "rack": 0,
                "slot": 2,
                "poll_interval_ms": 1000,
                "timeout_ms": 500,
            },
        )
        enip = self.make("enip", plc_host="fd00::10", plc_slot=3)
        block = self.config_of(enip)["plc"]
        self.assertEqual(set(block), PLC_KEYS)
        self.assertEqual((block["host"], block["slot"]), ("fd00::10", 3))

    def test_other_kinds_send_false(self):
        mqtt = self.env["shopfloor.connection"].create(
            {"code": "plc-mqtt", "name": "MQTT", "kind": "mqtt", "mqtt_url": "mqtt://b", "plc_host": "left.over"}
        )
        self.assertIs(self.config_of(mqtt)["plc"], False)
        self.assertIs(self.connection._sidecar_config()["plc"], False)

    def test_defaults_and_port_hint(self):
        connection = self.make("s7")
        self.assertEqual(
            (connection.plc_port, connection.plc_poll_interval_ms, connection.plc_timeout_ms), (0, 1000, 2000)
        )
        self.assertEqual(connection.plc_port_hint, "102 (the Siemens S7 default)")
        self.assertIn("not shorter than the poll interval", connection.plc_timeout_note)
        connection.write({"plc_port": 1102, "plc_timeout_ms": 800})
        self.assertEqual(connection.plc_port_hint, "1102")
        self.assertFalse(connection.plc_timeout_note)
        for kind, port in plc.DEFAULT_PORTS.items():
            self.assertIn(str(port), self.make(kind, code=f"hint-{kind}").plc_port_hint)

    def test_settings_reload_the_sidecar(self):
        connection = self.make("modbus")
        revision = connection.revision
        connection.plc_poll_interval_ms = 500
        self.assertEqual(connection.revision, revision + 1)
        self.assertIn("Poll interval (ms)", connection.message_ids[0].body)

    # ------------------------------------------------------------------ checks

    def test_checks_on_save(self):
        bad = [
            ("modbus", {"plc_host": False}, "PLC host: the host name or IP address of the PLC is required"),
            ("modbus", {"plc_host": "tcp://10.0.0.1"}, "holds a scheme"),
            ("modbus", {"plc_host": "10.0.0.1:502"}, "holds a port; put the port in PLC port"),
            ("modbus", {"plc_host": "[fd00::1]"}, "without brackets"),
            ("modbus", {"plc_host": "plc one"}, "is not a host name or IP address"),
            ("modbus", {"plc_port": 70000}, "PLC port: 70000 is not a port"),
            ("modbus", {"plc_port": -1}, "PLC port: -1 is not a port"),
            ("modbus", {"plc_unit_id": 256}, "Unit id: 256 is not a Modbus unit id (0 to 255)"),
            ("modbus", {"plc_unit_id": -1}, "Unit id: -1"),
            ("s7", {"plc_rack": 8}, "Rack: 8 is not an S7 rack (0 to 7)"),
            ("s7", {"plc_slot": 32}, "Slot: 32 is not a slot (0 to 31)"),
            ("enip", {"plc_slot": -1}, "Slot: -1 is not a slot"),
            ("enip", {"plc_poll_interval_ms": 49}, "Poll interval: 49 ms is outside 50 ms"),
            ("s7", {"plc_timeout_ms": 0}, "Timeout: 0 ms is outside 100 ms"),
        ]
        for kind, values, message in bad:
            with (
                self.subTest(kind=kind, values=values),
                self.assertRaisesRegex(ValidationError, re.escape(message)),
                self.cr.savepoint(),
            ):
                self.make(kind, code="bad", **values)
        # Fields of another protocol are not checked: a Modbus connection has no rack.
        self.make("modbus", code="ok-1", plc_rack=99, plc_slot=99, plc_unit_id=0)
        self.make("s7", code="ok-2", plc_unit_id=999, plc_rack=7, plc_slot=31, plc_poll_interval_ms=50)
        connection = self.make("enip", code="ok-3")
        with self.assertRaisesRegex(ValidationError, r"Connection ok-3 \(EtherNet/IP \(Allen-Bradley Logix\)\): Slot"):
            connection.plc_slot = 40

    def test_form_shows_plc_fields_for_plc_kinds_only(self):
        form = Form(self.env["shopfloor.connection"])
        form.name = "Line 4 PLC"
        form.code = "line4"
        form.kind = "modbus"
        form.plc_host = "10.4.0.2"
        connection = form.save()
        self.assertEqual(connection._sidecar_plc()["host"], "10.4.0.2")
        self.assertEqual(connection._endpoint_label(), "10.4.0.2:502")

    # ------------------------------------------------------------------ rules

    def rule(self, connection, address, **values):
        return self.env["shopfloor.mapping.rule"].create(
            {
                "connection_id": connection.id,
                "kind": "counter",
                "address": address,
                "source": "plant1/line4/press",
                "event_type": "production.reported",
                **values,
            }
        )

    def test_rule_protocol_follows_the_connection(self):
        for kind in plc.PLC_KINDS:
            connection = self.make(kind, code=f"follow-{kind}")
            rule = self.rule(connection, GOOD_ADDRESSES[kind][0])
            self.assertEqual(rule.protocol, kind)
            self.assertEqual(self.config_of(connection)["rules"][0]["protocol"], kind)
        modbus = self.env["shopfloor.connection"].search([("code", "=", "follow-modbus")])
        with (
            self.assertRaisesRegex(ValidationError, "reads a Siemens S7 tag, but connection follow-modbus is Modbus"),
            self.cr.savepoint(),
        ):
            self.rule(modbus, "DB10,INT4", protocol="s7")
        with (
            self.assertRaisesRegex(ValidationError, "polls a Modbus TCP PLC; its tag rules are of protocol"),
            self.cr.savepoint(),
        ):
            self.rule(modbus, "ns=2;s=X", protocol="opcua")
        # Its HTTP intake may still feed mapped payload values.
        self.rule(modbus, "plant1/line4/press/Count", protocol="payload")
        with self.assertRaisesRegex(ValidationError, "cannot become Siemens S7: tag rules hr100 read Modbus TCP"):
            modbus.kind = "s7"

    def test_rule_onchange_takes_the_connection_kind(self):
        connection = self.make("enip")
        form = Form(self.env["shopfloor.mapping.rule"])
        form.connection_id = connection
        self.assertEqual(form.protocol, "enip")

    def test_every_good_address_is_accepted(self):
        for kind, addresses in GOOD_ADDRESSES.items():
            connection = self.make(kind, code=f"good-{kind}")
            for address in addresses:
                with self.subTest(kind=kind, address=address):
                    self.assertEqual(plc.address_error(kind, address), "")
                    self.rule(connection, address)

    def test_bad_addresses_refused_with_their_reason(self):
        for kind, cases in BAD_ADDRESSES.items():
            connection = self.make(kind, code=f"bad-{kind}")
            for address, message in cases:
                with self.subTest(kind=kind, address=address):
                    error = plc.address_error(kind, address)
                    self.assertIn(message, error)
                    if address:
                        self.assertIn("(e.g. ", error)
                        with self.assertRaisesRegex(ValidationError, "Rule .*: Address: "), self.cr.savepoint():
                            self.rule(connection, address)

    def test_tags_a_rule_reads_are_checked_too(self):
        connection = self.make("s7")
        with self.assertRaisesRegex(ValidationError, "Order tag: 'DB10,FOO2'"), self.cr.savepoint():
            self.rule(connection, "DB10,DINT0", order_address="DB10,FOO2")
        rule = self.rule(connection, "DB10,DINT0", order_address="DB10,S20.30", operation_address="DB10,S52.20")
        with self.assertRaisesRegex(ValidationError, "field order: 'MW': not an S7 address"), self.cr.savepoint():
            self.env["shopfloor.mapping.rule"].create(
                {
                    "connection_id": connection.id,
                    "kind": "trigger",
                    "address": "DB10,X0.0",
                    "source": "plant1/line4/press",
                    "event_type": "workorder.started",
                    "field_ids": [(0, 0, {"name": "order", "source": "tag", "address": "MW"})],
                }
            )
        self.assertEqual(
            self.config_of(connection)["rules"][0]["params"],
            {"order_address": "DB10,S20.30", "operation_address": "DB10,S52.20"},
        )
        self.assertEqual(rule.protocol, "s7")

    def test_deadband_for_polled_plcs_only(self):
        connection = self.make("modbus")
        rule = self.rule(connection, "hr100:float32", deadband=0.5, use_scale=True, scale=0.1)
        self.assertEqual(self.config_of(connection)["rules"][0]["params"], {"deadband": 0.5, "scale": 0.1})
        with self.assertRaisesRegex(ValidationError, "the deadband cannot be negative"), self.cr.savepoint():
            rule.deadband = -1
        with self.assertRaisesRegex(ValidationError, "a deadband is for polled PLCs"), self.cr.savepoint():
            self.env["shopfloor.mapping.rule"].create(
                {
                    "connection_id": self.connection.id,
                    "kind": "counter",
                    "protocol": "opcua",
                    "address": "ns=2;s=X",
                    "source": "plant1/line1/press-01",
                    "event_type": "production.reported",
                    "deadband": 2,
                }
            )
