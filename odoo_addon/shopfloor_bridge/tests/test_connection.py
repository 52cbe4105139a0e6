import json

import psycopg2

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import DEFAULT_BATCH, ShopfloorCase

CONFIG_KEYS = {
    "code",
    "name",
    "kind",
    "revision",
    "server_time",
    "mqtt",
    "sparkplug",
    "opcua",
    "backbone",
    "plc",
    "folder",  # historian import
    "sql",  # historian import
    "batch",
    "skew",
    "sources",
    "rules",
    "payload_maps",
    "http",
    "dispatch",
}
MQTT_KEYS = {
    "url",
    "topics",
    "client_id",
    "protocol_version",
    "keepalive_s",
    "username",
    "password",
    "ca",
    "reject_unauthorized",
    "client_cert",
    "client_key",
}
OPCUA_KEYS = {
    "endpoint",
    "security_mode",
    "security_policy",
    "auth",
    "username",
    "password",
    "publishing_interval_ms",
    "sampling_interval_ms",
}


def find_none(value, path="$"):
    """Paths of every None in a structure (XML-RPC cannot carry None)."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in find_none(item, f"{path}.{key}")]
    if isinstance(value, list | tuple):
        return [p for index, item in enumerate(value) for p in find_none(item, f"{path}[{index}]")]
    return []


@tagged("post_install", "-at_install")
class TestConnection(ShopfloorCase):
    def test_mqtt_config_shape(self):
        self.connection.write({"mqtt_url": "mqtt://127.0.0.1:1883", "topic_filters": "shopfloor/#\n\n  plant1/+/x \n"})
        config = self.env["shopfloor.connection"].sidecar_config("test-conn")
        self.assertEqual(set(config), CONFIG_KEYS)
        self.assertEqual(find_none(config), [])
        self.assertEqual((config["code"], config["kind"]), ("test-conn", "mqtt"))
        self.assertEqual(config["revision"], self.connection.revision)
        self.assertRegex(config["server_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(set(config["mqtt"]), MQTT_KEYS)
        self.assertEqual(config["mqtt"]["topics"], ["shopfloor/#", "plant1/+/x"])
        self.assertEqual(config["mqtt"]["client_id"], "sfb-test-conn")
        self.assertEqual(config["mqtt"]["protocol_version"], 5)
        self.assertEqual((config["mqtt"]["password"], config["mqtt"]["ca"]), ("", ""))
        self.assertEqual((config["payload_maps"], config["http"]), ([], False))
        self.assertIs(config["mqtt"]["reject_unauthorized"], True)
        self.assertIs(config["opcua"], False)
        self.assertIs(config["sparkplug"], False)
        self.assertEqual(config["batch"], DEFAULT_BATCH)
        self.assertIs(config["backbone"], False)
        self.assertEqual((config["folder"], config["sql"]), (False, False))
        self.assertEqual(config["skew"], {"bound_ms": 5000, "correct": False})
        self.assertIn({"source": "plant1/line1/press-01", "workcenter": "L1-PRESS"}, config["sources"])
        self.assertEqual(len(config["sources"]), 4)
        self.assertEqual(config["dispatch"]["targets"], [])
        self.assertIsInstance(config["dispatch"]["poll_interval_ms"], int)

    @mute_logger("odoo.sql_db")
    def test_mqtt_keepalive(self):
        """How soon the sidecar notices a broker that stopped answering: 60 s unless set, 1 to
        65535 (MQTT's two bytes; 0 would turn the pings off), and a change reloads the sidecar."""
        self.assertEqual(self.connection._sidecar_config()["mqtt"]["keepalive_s"], 60)
        revision = self.connection.revision
        self.connection.write({"mqtt_keepalive_s": 15})
        self.assertEqual(self.connection._sidecar_config()["mqtt"]["keepalive_s"], 15)
        self.assertEqual(self.connection.revision, revision + 1)
        for value in (0, -1, 65536):
            with self.subTest(value=value), self.assertRaises(psycopg2.IntegrityError) as caught:
                with self.cr.savepoint():
                    self.connection.write({"mqtt_keepalive_s": value})
            self.assertIn("mqtt_keepalive_range", str(caught.exception))
        self.connection.write({"mqtt_keepalive_s": 65535})
        self.assertEqual(self.connection._sidecar_config()["mqtt"]["keepalive_s"], 65535)
        messages = {name: text for name, _sql, text in self.env["shopfloor.connection"]._sql_constraints}
        self.assertIn("between 1 and 65535 seconds", messages["mqtt_keepalive_range"])

    def test_mqtt_broker_url_is_one_the_sidecar_reads_as_written(self):
        """Checked only when the sidecar started before: a typo stopped it there, and a ?clientId=
        silently moved its persistent session to another client id."""
        cases = [
            ("broker:1883", "it is not scheme://host:port"),
            ("http://broker:1883", "http:// is no MQTT scheme"),
            ("mqtt://", "a host is missing"),
            ("mqtt://broker:0", "'0' is not a port (1 to 65535)"),
            ("mqtt://broker:1883/plant1", "MQTT over TCP has no path (/plant1 would be ignored)"),
            ("mqtt://broker:1883?clientId=other", "MQTT over TCP has no ?query"),
            ("mqtt://broker:1883#x", "a broker URL has no #fragment"),
            ("ws://broker:8080/mqtt?clientId=other", "?clientId= would replace the connection's MQTT client id"),
            ("mqtt://[zz]:1883", "[zz] is not an IPv6 address"),
        ]
        for url, message in cases:
            with self.subTest(url=url), self.assertRaises(ValidationError) as caught, self.cr.savepoint():
                self.connection.write({"mqtt_url": url})
            self.assertIn(f"Connection test-conn: Broker URL: {message}", str(caught.exception))
        for url in (
            "mqtts://broker.plant.local:8883/",
            "tcp://10.0.0.5",
            "mqtt://sidecar:pw@[::1]:1883",
            "wss://iot.example.com/mqtt?X-Amz-Signature=abc",
            " mqtt://broker:1883 ",
        ):
            self.connection.write({"mqtt_url": url})
            self.assertEqual(self.connection._sidecar_config()["mqtt"]["url"], url.strip())

    def test_opcua_and_sparkplug_blocks(self):
        opcua = self.env["shopfloor.connection"].create(
            {
                "code": "opc",
                "name": "OPC",
                "kind": "opcua",
                "opcua_endpoint": "opc.tcp://plc:4840",
                "opcua_auth": "username",
                "opcua_username": "ua",
                "opcua_password": "secret",
            }
        )
        self.env["shopfloor.mapping.rule"].create(
            {
                "connection_id": opcua.id,
                "kind": "counter",
                "protocol": "opcua",
                "address": "ns=2;s=[default]Line1/Press01/Good",
                "source": "plant1/line1/press-01",
                "event_type": "production.reported",
                "params_json": json.dumps({"wrap_at": 65536, "order_address": None}),
            }
        )
        config = opcua._sidecar_config()
        self.assertEqual(find_none(config), [])
        self.assertIs(config["mqtt"], False)
        self.assertEqual(set(config["opcua"]), OPCUA_KEYS)
        self.assertEqual(config["opcua"]["password"], "secret")
        [rule] = config["rules"]
        # null is "not set", as the rule engines read it: the typed fields hold nothing for it.
        self.assertEqual(rule["params"], {"wrap_at": 65536})
        self.assertEqual(rule["event_type"], "production.reported")
        sparkplug = self.env["shopfloor.connection"].create(
            {
                "code": "spb",
                "name": "SpB",
                "kind": "sparkplug",
                "mqtt_url": "mqtt://b",
                "sparkplug_group_id": "Plant1",
            }
        )
        config = sparkplug._sidecar_config()
        self.assertEqual(config["sparkplug"], {"group_id": "Plant1", "host_id": "sfb-spb", "role": "primary"})
        self.assertEqual(set(config["mqtt"]), MQTT_KEYS)
        self.assertIs(config["opcua"], False)

    def test_sparkplug_ids_are_topic_levels(self):
        """A Sparkplug connection without a group subscribed to spBv1.0//# and took nothing, without a
        word; + / # in the group or the host id (by default sfb-<code>) made topics no broker takes."""
        values = {"code": "spb-ids", "name": "SpB", "kind": "sparkplug", "mqtt_url": "mqtt://b"}
        cases = [
            ({}, "the Sparkplug group id must be set, without / + #"),
            ({"sparkplug_group_id": "Plant/1"}, "'Plant/1'"),
            ({"sparkplug_group_id": "P1", "code": "line+1"}, "the Sparkplug host id must be set, without / + #"),
            ({"sparkplug_group_id": "P1", "sparkplug_host_id": "host#1"}, "'host#1'"),
            ({"sparkplug_group_id": "Plant\x011"}, "may not hold a control character"),
            ({"sparkplug_group_id": "P1", "sparkplug_host_id": "host\ufdd0"}, "(here U+FDD0)"),
        ]
        for extra, message in cases:
            with self.subTest(extra=extra), self.assertRaises(ValidationError) as caught, self.cr.savepoint():
                self.env["shopfloor.connection"].create({**values, **extra})
            self.assertIn(message, str(caught.exception))
        # The code's + is no longer in a topic once the host id is given.
        connection = self.env["shopfloor.connection"].create(
            {**values, "code": "line+1", "sparkplug_group_id": "Plant 1", "sparkplug_host_id": "sfb-line1"}
        )
        self.assertEqual(connection._sidecar_config()["sparkplug"]["host_id"], "sfb-line1")
        with self.assertRaises(ValidationError), self.cr.savepoint():
            connection.sparkplug_host_id = False
        # An MQTT connection's code may keep its +: it names no Sparkplug topic.
        connection.write({"kind": "mqtt", "sparkplug_group_id": False})
        with self.assertRaisesRegex(ValidationError, "group id must be set"), self.cr.savepoint():
            connection.kind = "sparkplug"

    def test_topic_filters_a_broker_takes(self):
        """The sidecar subscribes to every line of Topic filters in one SUBSCRIBE: MQTT.js refused the
        whole of it for one misplaced wildcard and Mosquitto dropped the connection for one control
        character, so one wrong line silenced the connection; U+0085 or U+001E split a line in two and
        U+001F was stripped, so the sidecar subscribed to filters nobody wrote. All refused here."""
        cases = [
            ("shopfloor/#\nplant1/line+/count", "line 2: '+' must be a whole level"),
            ("shopfloor/#\nplant1/#/count", "line 2: '#' must be a whole level"),
            ("plant1/press\x01/count", "line 1 holds a control character (U+0001), which MQTT lets a broker refuse"),
            ("shopfloor/#\nplant1/a\x85b", "line 2 holds a control character (U+0085)"),
            ("plant1/a\x1e\nshopfloor/#", "line 1 holds a control character (U+001E)"),
            ("plant1/\x1f", "line 1 holds a control character (U+001F)"),
            ("plant1/a\tb", "(here U+0009)"),
            ("plant1/\uffff", "(here U+FFFF)"),
            ("plant1/\U0001fffe", "(here U+1FFFE)"),
            ("plant1/a\rb", "line 1 holds a control character (U+000D)"),
        ]
        for text, message in cases:
            with self.subTest(text=text), self.assertRaises(ValidationError) as caught, self.cr.savepoint():
                self.connection.topic_filters = text
            self.assertIn(message, str(caught.exception))
            self.assertIn("Topic Filters", str(caught.exception))
        # Line ends of any platform, blank lines, spaces and tabs around a filter, and any other
        # character (a no-break space, an emoji) are fine.
        self.connection.topic_filters = "shopfloor/#\r\n\n  plant1/+/count\t\r\nplant 1/\u00a0/😀\n"
        self.assertEqual(self.connection._topic_filter_list(), ["shopfloor/#", "plant1/+/count", "plant 1/\u00a0/😀"])

    def test_heartbeat_records_stats(self):
        reply = self.env["shopfloor.connection"].heartbeat(
            "test-conn", {"version": "0.3.1", "spool_depth": 42, "rate_in": 12.5, "rate_applied": "11", "x": None}
        )
        self.assertEqual(set(reply), {"server_time", "revision"})
        self.assertEqual(reply["revision"], self.connection.revision)
        self.assertEqual(find_none(reply), [])
        self.assertEqual(self.connection.sidecar_version, "0.3.1")
        self.assertEqual((self.connection.spool_depth, self.connection.rate_in), (42, 12.5))
        self.assertEqual(self.connection.rate_applied, 11.0)
        self.assertTrue(self.connection.last_seen)
        self.assertEqual(json.loads(self.connection.stats_json)["spool_depth"], 42)
        # Garbage stats do not break the heartbeat.
        self.env["shopfloor.connection"].heartbeat("test-conn", {"spool_depth": "lots"})
        self.assertEqual(self.connection.spool_depth, 0)

    def test_heartbeat_takes_any_stats_a_sidecar_sends(self):
        """NUL and lone surrogates in text, NaN, infinities and numbers past int4
        in counters: the heartbeat is recorded, never refused."""
        reply = self.env["shopfloor.connection"].heartbeat(
            "test-conn",
            {
                "version": "1.0\x00\ud800",
                "spool_depth": 1e308,
                "spool_parked": float("inf"),
                "rate_in": float("nan"),
                "rate_applied": float("-inf"),
                "note": "\x00",
            },
        )
        self.assertEqual(reply["revision"], self.connection.revision)
        self.assertEqual(self.connection.sidecar_version, "1.0\\x00\\ud800")
        self.assertEqual((self.connection.spool_depth, self.connection.spool_parked), (2**31 - 1, 0))
        self.assertEqual((self.connection.rate_in, self.connection.rate_applied), (0.0, 0.0))
        self.assertEqual(json.loads(self.connection.stats_json)["note"], "\x00")

    def test_heartbeat_records_parked_spool_rows_and_the_form_warns(self):
        self.env["shopfloor.connection"].heartbeat("test-conn", {"spool_depth": 5, "spool_parked": 3})
        self.assertEqual((self.connection.spool_depth, self.connection.spool_parked), (5, 3))
        views = self.env["shopfloor.connection"].get_views([(False, "list"), (False, "form")])["views"]
        self.assertIn('name="spool_parked"', views["list"]["arch"])
        self.assertIn("o_sfb_spool_parked_alert", views["form"]["arch"])
        self.assertIn("spool list --state parked", views["form"]["arch"])
        # A sidecar that sends no count (older, or nothing parked any more) clears it.
        self.env["shopfloor.connection"].heartbeat("test-conn", {"spool_depth": 5})
        self.assertEqual(self.connection.spool_parked, 0)
        self.env["shopfloor.connection"].heartbeat("test-conn", {"spool_parked": "many"})
        self.assertEqual(self.connection.spool_parked, 0)

    def test_unknown_code_is_a_clear_error(self):
        with self.assertRaisesRegex(UserError, "No active shop-floor connection with code 'nope'"):
            self.env["shopfloor.connection"].sidecar_config("nope")
        with self.assertRaisesRegex(UserError, "connection code"):
            self.env["shopfloor.connection"].heartbeat(False, {})

    def test_secrets_only_for_the_connections_sidecar(self):
        self.connection.mqtt_password = "s3cret"
        reader = new_test_user(
            self.env, "sf-reader", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )
        as_reader = self.connection.with_user(reader)
        self.assertEqual(as_reader.name, "Test plant MQTT")
        self.assertFalse(as_reader.mqtt_password)
        manager = new_test_user(
            self.env, "sf-manager", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager"
        )
        # Write-only, even for the managers who set it.
        self.assertFalse(self.connection.with_user(manager).mqtt_password)
        # The sidecar gets it through sidecar_config only, once it acts for the connection.
        sidecar = new_test_user(self.env, "sf-sidecar", groups="shopfloor_bridge.shopfloor_bridge_group_integration")
        with self.assertRaises(AccessError):
            self.connection.with_user(sidecar).read(["mqtt_password_secret"])
        with self.assertRaises(AccessError):
            self.env["shopfloor.connection"].with_user(sidecar).sidecar_config("test-conn")
        self.connection.integration_user_ids = [(4, sidecar.id)]
        config = self.env["shopfloor.connection"].with_user(sidecar).sidecar_config("test-conn")
        self.assertEqual(config["mqtt"]["password"], "s3cret")

    @mute_logger("odoo.sql_db")
    def test_code_unique_per_company(self):
        with self.assertRaises(psycopg2.IntegrityError), self.cr.savepoint():
            self.env["shopfloor.connection"].create({"code": "test-conn", "name": "again"})
