"""Message-queue connections (RabbitMQ, Kafka, Redis Streams): fields, checks, sidecar_config, views."""

import ast
import base64
import random

import psycopg2
from lxml import etree

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from .. import backbone
from .common import DEFAULT_BATCH, ShopfloorCase

CA = "-----BEGIN CERTIFICATE-----\nMIIBbase64ca\n-----END CERTIFICATE-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBbase64client\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----\n"
ENCRYPTED_KEY = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHz\n-----END ENCRYPTED PRIVATE KEY-----\n"
INTEGRATION = "shopfloor_bridge.shopfloor_bridge_group_integration"
MANAGER = "base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager"

BACKBONE_KEYS = {
    "url",
    "names",
    "group",
    "consumer",
    "username",
    "password",
    "tls",
    "ca",
    "reject_unauthorized",
    "client_cert",
    "client_key",
    "prefetch",
    "sasl_mechanism",
    "claim_idle_ms",
}
VALID = {
    "amqp": {"backbone_url": "amqp://rabbit.plant:5672/shopfloor", "backbone_names": "sfb.events"},
    "kafka": {
        "backbone_url": "kafka1.plant:9092,kafka2.plant:9092",
        "backbone_names": "shopfloor.events",
        "backbone_group": "sfb-plant1",
    },
    "redis": {
        "backbone_url": "redis://redis.plant:6379/0",
        "backbone_names": "shopfloor:events",
        "backbone_group": "sfb",
    },
}


@tagged("post_install", "-at_install")
class TestBackbone(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "bb-manager", groups=MANAGER)
        cls.sidecar = new_test_user(cls.env, "bb-sidecar", groups=INTEGRATION)

    def make(self, kind, code=None, **values):
        return self.env["shopfloor.connection"].create(
            {"code": code or f"bb-{kind}", "name": f"Plant {kind}", "kind": kind, **VALID[kind], **values}
        )

    def config_of(self, connection):
        connection.integration_user_ids = [(4, self.sidecar.id)]
        return self.env["shopfloor.connection"].with_user(self.sidecar).sidecar_config(connection.code)

    # ------------------------------------------------------------------ sidecar_config

    def test_amqp_config_block(self):
        connection = self.make(
            "amqp",
            backbone_url="amqps://rabbit.plant:5671/%2F",
            backbone_names="sfb.events\n\n  sfb.line2 \n",
            backbone_group="ignored for RabbitMQ",
            backbone_consumer="sidecar-a",
            backbone_username="sfb",
            backbone_password="rabbit-pw",
            backbone_ca=CA,
            backbone_client_cert=CERT,
            backbone_client_key=KEY,
            backbone_prefetch=200,
        )
        config = self.config_of(connection)
        self.assertEqual(config["kind"], "amqp")
        self.assertEqual(
            config["backbone"],
            {
                "url": "amqps://rabbit.plant:5671/%2F",
                "names": ["sfb.events", "sfb.line2"],
                "group": "",
                "consumer": "sidecar-a",
                "username": "sfb",
                "password": "rabbit-pw",
                "tls": True,  # amqps:// means TLS, whatever the box says
                "ca": CA,
                "reject_unauthorized": True,
                "client_cert": CERT,
                "client_key": KEY,
                "prefetch": 200,
                "sasl_mechanism": "",
                "claim_idle_ms": 30000,
            },
        )
        self.assertEqual((config["mqtt"], config["sparkplug"], config["opcua"]), (False, False, False))

    def test_kafka_config_block(self):
        connection = self.make(
            "kafka",
            backbone_url=" kafka1.plant:9093 , [fd00::7]:9093 ",
            backbone_names="shopfloor.events\nshopfloor.line-2",
            backbone_username="sfb",
            backbone_password="kafka-pw",
            backbone_sasl_mechanism="scram-sha-512",
            backbone_tls=True,
            backbone_reject_unauthorized=False,
            backbone_claim_idle_ms=10000,
        )
        self.assertEqual(
            self.config_of(connection)["backbone"],
            {
                "url": "kafka1.plant:9093,[fd00::7]:9093",
                "names": ["shopfloor.events", "shopfloor.line-2"],
                "group": "sfb-plant1",
                "consumer": "",
                "username": "sfb",
                "password": "kafka-pw",
                "tls": True,
                "ca": "",
                "reject_unauthorized": False,
                "client_cert": "",
                "client_key": "",
                "prefetch": 500,
                "sasl_mechanism": "scram-sha-512",
                "claim_idle_ms": 10000,
            },
        )

    def test_redis_config_block_and_defaults(self):
        connection = self.make("redis", backbone_names="plant1:events\nplant1:counts")
        config = self.config_of(connection)
        self.assertEqual(
            config["backbone"],
            {
                "url": "redis://redis.plant:6379/0",
                "names": ["plant1:events", "plant1:counts"],
                "group": "sfb",
                "consumer": "",
                "username": "",
                "password": "",
                "tls": False,
                "ca": "",
                "reject_unauthorized": True,
                "client_cert": "",
                "client_key": "",
                "prefetch": 500,
                "sasl_mechanism": "",
                "claim_idle_ms": 30000,
            },
        )
        self.assertEqual(set(config["backbone"]), BACKBONE_KEYS)
        self.assertEqual(config["batch"], DEFAULT_BATCH)
        rediss = self.make("redis", code="bb-rediss", backbone_url="rediss://redis.plant:6380/2")
        self.assertIs(self.config_of(rediss)["backbone"]["tls"], True)
        for code, url in [
            ("bb-tls-cluster", "rediss+cluster://n1,n2:6380"),
            ("bb-tls-sentinel", "rediss+sentinel://s1/m"),
        ]:
            with self.subTest(url=url):
                self.assertIs(self.config_of(self.make("redis", code=code, backbone_url=url))["backbone"]["tls"], True)

    def test_other_kinds_have_no_backbone_and_carry_the_delivery_settings(self):
        self.connection.write(
            {
                "mqtt_url": "mqtt://127.0.0.1:1883",
                "delivery_partitions": 4,
                "catchup_backlog": 0,
                "batch_size": 200,
                "batch_send_at": 0,
            }
        )
        self.connection.write({"catchup_batch_size": 800})
        config = self.config_of(self.connection)
        self.assertIs(config["backbone"], False)
        self.assertEqual(
            config["batch"],
            {"size": 200, "wait_ms": 1000, "send_at": 0, "partitions": 4, "catchup_backlog": 0, "catchup_size": 800},
        )

    def test_a_changed_setting_moves_the_revision_the_sidecar_reloads_on(self):
        connection = self.make("kafka")
        revision = connection.revision
        connection.write({"name": "Renamed"})
        self.assertEqual(connection.revision, revision)
        connection.write({"backbone_names": "shopfloor.events\nshopfloor.more"})
        self.assertEqual(connection.revision, revision + 1)
        connection.write({"backbone_password": "new"})
        self.assertEqual(connection.revision, revision + 2)
        connection.write({"delivery_partitions": 3})
        self.assertEqual(connection.revision, revision + 3)
        connection.write({"batch_send_at": 250})
        self.assertEqual(connection.revision, revision + 4)
        self.assertTrue(
            any("(Queues / topics / streams)" in body for body in connection.message_ids.mapped("body")),
            connection.message_ids.mapped("body"),
        )

    def test_amqp_uri_query_reaches_the_sidecar(self):
        """RabbitMQ's URI query parameters the sidecar reads are taken as written."""
        url = "amqp://n1:5672,n2:5672/plant?heartbeat=5&connection_timeout=2000&channel_max=64&frame_max=131072"
        connection = self.make("amqp", code="bb-query", backbone_url=url)
        self.assertEqual(self.config_of(connection)["backbone"]["url"], url)
        self.assertEqual(backbone.amqp_query_error("frame_max=0&channel_max=0"), "")

    # ------------------------------------------------------------------ secrets

    def test_secrets_are_write_only_and_reach_the_sidecar_only(self):
        connection = self.make("amqp", backbone_url="amqps://rabbit.plant/sfb", backbone_username="sfb")
        as_manager = connection.with_user(self.manager)
        as_manager.write({"backbone_password": "pw-1", "backbone_client_key": KEY, "backbone_client_cert": CERT})
        self.assertFalse(as_manager.backbone_password)
        self.assertFalse(as_manager.read(["backbone_password", "backbone_client_key"])[0]["backbone_client_key"])
        self.assertIn("Queue password", as_manager.secrets_set)
        self.assertIn("Queue client private key (PEM)", as_manager.secrets_set)
        for column in ("backbone_password_secret", "backbone_client_key_secret"):
            with self.assertRaises(AccessError):
                as_manager.read([column])
        with self.assertRaises(AccessError):
            as_manager.write({"backbone_password_secret": "x"})
        reader = new_test_user(
            self.env, "bb-reader", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )
        self.assertFalse(connection.with_user(reader).backbone_password)
        with self.assertRaises(AccessError):
            connection.with_user(reader).write({"backbone_password": "mine"})
        # Not an integration user of this connection: no configuration, no secrets.
        with self.assertRaises(AccessError):
            self.env["shopfloor.connection"].with_user(self.sidecar).sidecar_config(connection.code)
        # An empty input keeps the stored secret (the form sends it when other fields change).
        as_manager.write({"backbone_password": False, "name": "Renamed"})
        config = self.config_of(connection)["backbone"]
        self.assertEqual((config["password"], config["client_key"]), ("pw-1", KEY))
        as_manager.action_clear_secrets()
        config = self.config_of(connection)["backbone"]
        self.assertEqual((config["password"], config["client_key"]), ("", ""))
        copied = connection.copy({"code": "bb-copy"}).sudo()
        self.assertEqual((copied.backbone_password_secret, copied.backbone_client_cert), (False, False))

    def test_an_encrypted_or_non_pem_key_is_refused_and_not_stored(self):
        connection = self.make("redis", backbone_url="rediss://redis.plant:6380/0")
        with self.assertRaisesRegex(ValidationError, r"Queue client private key \(PEM\): the key is encrypted"):
            connection.write({"backbone_client_key": ENCRYPTED_KEY})
        with self.assertRaisesRegex(ValidationError, "it must be a PEM private key"):
            connection.write({"backbone_client_key": "not a key"})
        self.assertFalse(connection.sudo().backbone_client_key_secret)

    # ------------------------------------------------------------------ checks

    def assert_refused(self, kind, message, **values):
        with self.assertRaises(ValidationError) as caught, self.cr.savepoint():
            self.make(kind, code="bb-refused", **values)
        self.assertIn(message, str(caught.exception))
        return str(caught.exception)

    def test_every_check_says_what_is_wrong(self):
        cases = [
            ("amqp", {"backbone_url": "mqtt://rabbit:1883"}, "must start with amqp:// or amqps://"),
            ("amqp", {"backbone_url": "amqp://"}, "a host is missing"),
            ("amqp", {"backbone_url": "amqp://rabbit:99999/x"}, "'99999' is not a port (1 to 65535)"),
            ("amqp", {"backbone_url": "amqp://sfb:pw@rabbit/x"}, "put them in the User and Password fields"),
            ("amqp", {"backbone_url": "amqp://rabbit/a/b"}, "the virtual host is one path segment"),
            ("amqp", {"backbone_url": "amqp://rab bit/x"}, "a URL holds no spaces"),
            ("amqp", {"backbone_url": "amqp://n1:5672,,n3/x"}, "node '': a host is missing"),
            # RabbitMQ's URI query parameters: read (heartbeat, connection_timeout, channel_max,
            # frame_max) or refused, never ignored.
            ("amqp", {"backbone_url": "amqp://rabbit/x?heartbeat=0"}, "heartbeat=0: heartbeat is a whole number of"),
            ("amqp", {"backbone_url": "amqp://rabbit/x?heartbeat=5s"}, "heartbeat=5s"),
            ("amqp", {"backbone_url": "amqp://rabbit/x?heartbeat=\u0665"}, "heartbeat=\u0665"),
            ("amqp", {"backbone_url": "amqp://rabbit/x?heartbeat=5&heartbeat=6"}, "the query names heartbeat twice"),
            ("amqp", {"backbone_url": "amqp://rabbit/x?frame_max=1024"}, "0 (the broker's limit) or 4096 to"),
            ("amqp", {"backbone_url": "amqp://rabbit/x?connection_timeout="}, "milliseconds from 1 to 3600000"),
            ("amqp", {"backbone_url": "amqp://rabbit/x?heartbeats=5"}, "'heartbeats' is no query parameter"),
            ("amqp", {"backbone_url": "amqps://rabbit/x?cacertfile=/ca.pem"}, "TLS is set on the connection"),
            # Stray brackets were a ValueError out of urlsplit: a server error instead of a message.
            ("amqp", {"backbone_url": "amqp://[::1/x"}, "'[::1' is not a host name or IP address"),
            ("amqp", {"backbone_url": "amqp://[zz]:5672/x"}, "[zz] is not an IPv6 address"),
            ("redis", {"backbone_url": "redis://a]/0"}, "'a]' is not a host name or IP address"),
            ("amqp", {"backbone_url": "amqp://n1,n2:0/x"}, "node 'n2:0': '0' is not a port (1 to 65535)"),
            ("amqp", {"backbone_url": "amqp://sfb:pw@n1,n2/x"}, "put them in the User and Password fields"),
            ("amqp", {"backbone_names": "amq.gen-123"}, "reserved for the broker"),
            ("amqp", {"backbone_names": "q" * 256}, "a queue name is at most 255 bytes"),
            ("amqp", {"backbone_names": " \n "}, "name at least one queue to consume"),
            ("amqp", {"backbone_names": "a\na"}, "queue 'a' is listed twice"),
            ("amqp", {"backbone_tls": True}, "TLS is on but the URL starts with amqp://: use amqps://"),
            ("amqp", {"backbone_ca": CA}, "is used only over TLS"),
            ("amqp", {"backbone_sasl_mechanism": "plain"}, "a SASL mechanism is for Kafka only"),
            (
                "amqp",
                {"backbone_url": "amqps://rabbit/x", "backbone_ca": "just text"},
                "Queue CA certificate (PEM): it must be PEM text",
            ),
            (
                "amqp",
                {"backbone_url": "amqps://rabbit/x", "backbone_client_cert": CERT},
                "the client certificate needs its private key",
            ),
            ("kafka", {"backbone_url": "kafka://broker:9092"}, "without a scheme"),
            ("kafka", {"backbone_url": "broker"}, "Broker URL: 'broker': the port is missing (host:9092)"),
            ("kafka", {"backbone_url": "broker:9092,,b2:9092"}, "the bootstrap list has an empty entry"),
            ("kafka", {"backbone_url": "k1:9092 k2:9092"}, "separate the brokers with commas"),
            ("kafka", {"backbone_url": "bro_ker!:9092"}, "'bro_ker!' is not a host name or IP address"),
            ("kafka", {"backbone_url": "[fd00::zz]:9092"}, "is not an IPv6 address"),
            ("kafka", {"backbone_names": "orders/line1"}, "a topic name holds only letters"),
            ("kafka", {"backbone_names": ".."}, "'..' is not a topic name"),
            ("kafka", {"backbone_names": "t" * 250}, "a topic name is at most 249 characters"),
            ("kafka", {"backbone_names": "__consumer_offsets"}, "Kafka's internal topics"),
            ("kafka", {"backbone_group": False}, "a Kafka connection needs a consumer group"),
            ("kafka", {"backbone_sasl_mechanism": "plain"}, "SASL PLAIN needs a user"),
            ("kafka", {"backbone_username": "sfb"}, "a user is set but no SASL mechanism"),
            ("kafka", {"backbone_client_cert": CERT}, "is used only over TLS: turn TLS on (or use the TLS box)"),
            ("redis", {"backbone_url": "redis.plant:6379"}, "must start with redis:// or rediss://"),
            ("redis", {"backbone_url": "redis://redis.plant/db1"}, "the path of a Redis URL is the database number"),
            ("redis", {"backbone_group": "  "}, "a Redis connection needs a consumer group"),
            ("redis", {"backbone_group": "g\x01"}, "holds a control character"),
            ("redis", {"backbone_consumer": " c1"}, "Consumer name"),
            ("redis", {"backbone_names": "ok\nbad\x7fname"}, "holds a control character"),
            # Python reads U+0085 and U+001C to U+001E as line breaks, U+001F as a space: each
            # would have split a name in two or trimmed it into another one without a word.
            ("redis", {"backbone_names": "ok\nbad\x85name"}, "line 2 holds a control character (U+0085)"),
            ("redis", {"backbone_names": "a\x1eb"}, "line 1 holds a control character (U+001E)"),
            ("amqp", {"backbone_names": "orders\x1f"}, "line 1 holds a control character (U+001F)"),
            ("kafka", {"backbone_names": "t\x9f"}, "line 1 holds a control character (U+009F)"),
            # A carriage return inside a line is a line break to splitlines too: two queues.
            ("amqp", {"backbone_names": "orders\rbad"}, "line 1 holds a control character (U+000D)"),
            ("redis", {"backbone_group": "g\x85"}, "holds a control character"),
            ("kafka", {"backbone_consumer": "c\x80"}, "Consumer name"),
            ("redis", {"backbone_tls": True}, "use rediss://"),
            ("redis", {"backbone_url": "redis+sentinel://s1:26379"}, "after the sentinels comes the name"),
            ("redis", {"backbone_url": "redis+sentinel://s1/mymaster/zero"}, "after the sentinels comes the name"),
            ("redis", {"backbone_url": "redis+sentinel://s1:0/mymaster"}, "sentinel 's1:0': '0' is not a port"),
            ("redis", {"backbone_url": "redis+sentinel://s1,,s2/mymaster"}, "sentinel '': a host is missing"),
            ("redis", {"backbone_url": "redis+sentinel://u:pw@s1/mymaster"}, "User and Password fields"),
            ("redis", {"backbone_url": "redis+sentinel://s1/my%G0"}, "is not valid percent-encoding"),
            ("redis", {"backbone_url": "redis+sentinel://s1/%E0%A4%A"}, "is not valid percent-encoding"),
            (
                "redis",
                {"backbone_url": "redis+sentinel://s1/mymaster", "backbone_tls": True},
                "TLS is on but the URL starts with redis+sentinel://: use rediss+sentinel://",
            ),
            ("redis", {"backbone_url": "redis+cluster://n1/3"}, "a Redis Cluster has database 0 only"),
            ("redis", {"backbone_url": "redis+cluster://n1:99999"}, "node 'n1:99999': '99999' is not a port"),
            ("redis", {"backbone_url": "redis+cluster://u@n1"}, "User and Password fields"),
            ("redis", {"backbone_url": "redis+cluster://n1?x=1"}, "this URL has no ?query or #fragment"),
            ("redis", {"backbone_url": "redis://r1:6379/0?socketTimeout=0"}, "this URL has no ?query or #fragment"),
            ("redis", {"backbone_url": "rediss://r1?ssl_cert_reqs=none"}, "this URL has no ?query or #fragment"),
            ("redis", {"backbone_url": "redis+sentinel://s1/mymaster#x"}, "this URL has no ?query or #fragment"),
            (
                "redis",
                {"backbone_url": "redis+cluster://n1,n2", "backbone_tls": True},
                "TLS is on but the URL starts with redis+cluster://: use rediss+cluster://",
            ),
        ]
        for kind, values, message in cases:
            with self.subTest(kind=kind, values=values):
                text = self.assert_refused(kind, message, **values)
                self.assertTrue(text.startswith("Connection bb-refused ("), text)
        # Windows line ends, and tabs around a name, are no part of it.
        connection = self.make("amqp", code="bb-crlf", backbone_names="orders\r\n\tmore\t\r\n")
        self.assertEqual(self.config_of(connection)["backbone"]["names"], ["orders", "more"])

    @mute_logger("odoo.sql_db")
    def test_range_checks(self):
        cases = [
            ({"backbone_prefetch": 0}, "backbone_prefetch_range"),
            ({"backbone_prefetch": 10001}, "backbone_prefetch_range"),
            ({"backbone_claim_idle_ms": 999}, "backbone_claim_idle_range"),
            ({"delivery_partitions": 0}, "delivery_partitions_range"),
            ({"delivery_partitions": 17}, "delivery_partitions_range"),
            ({"catchup_backlog": -1}, "catchup_backlog_positive"),
            ({"catchup_batch_size": 1001}, "catchup_batch_size_range"),
            ({"batch_send_at": -1}, "batch_send_at_range"),
            ({"batch_send_at": 1001}, "batch_send_at_range"),
        ]
        for values, constraint in cases:
            with self.subTest(values=values), self.assertRaises(psycopg2.IntegrityError) as caught:
                with self.cr.savepoint():
                    self.make("kafka", code="bb-range", **values)
            self.assertIn(constraint, str(caught.exception))
        message = self.env["shopfloor.connection"]._sql_constraints
        self.assertIn("between 1 and 16", {name: text for name, _sql, text in message}["delivery_partitions_range"])
        with self.assertRaisesRegex(ValidationError, r"catch-up batch size \(300\) must be at least the batch size"):
            self.make("kafka", code="bb-catchup", batch_size=400, catchup_batch_size=300)

    def test_other_kinds_are_not_checked_for_queue_settings(self):
        self.connection.write({"backbone_url": "whatever", "backbone_names": False})
        self.assertEqual(self.connection.kind, "mqtt")

    def test_valid_values_pass(self):
        for kind, url, names in [
            ("amqp", "amqp://[::1]:5672", "orders\nqueue with spaces\nÜmlaut.queue"),
            ("amqp", "amqps://rabbit.plant/%2F?heartbeat=30", "q" * 255),
            ("amqp", "amqp://rabbit-1:5672,rabbit-2,[fd00::3]:5673/plant", "events"),
            ("amqp", "amqps://10.0.0.1,10.0.0.2:5671/%2F?heartbeat=30", "events"),
            ("kafka", "10.0.0.7:9092", "a.b_c-D\n" + "t" * 249),
            ("redis", "redis://[::1]", "stream one\n{tenant}:events"),
            ("redis", "rediss://redis.plant:6380/15", "events"),
            ("redis", "redis+sentinel://s1:26379,s2,[::1]:26380/plant%20primary/2", "events"),
            ("redis", "rediss+sentinel://s1.plant.example,s2.plant.example:26380/plant/1", "events"),
            ("redis", "REDIS+SENTINEL://10.0.0.5/mymaster", "events"),
            ("redis", "redis+cluster://n1:7000,n2,[fd00::3]:7002/", "{plant}:line1\n{plant}:line2"),
            ("redis", "rediss+cluster://cache-0001.plant.example:6379,cache-0002.plant.example", "{plant}:line1"),
        ]:
            with self.subTest(url=url):
                connection = self.make(kind, code=f"bb-ok-{url}", backbone_url=url, backbone_names=names)
                self.assertEqual(self.config_of(connection)["backbone"]["names"], names.splitlines())

    def test_property_kafka_topic_names_follow_the_broker_rules(self):
        """Random names over an alphabet beyond the legal one: each is refused exactly when Kafka refuses it."""
        rng = random.Random(18)
        alphabet = "ab.Z09_-/ :é_"
        for _round in range(500):
            name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
            legal = all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in name) and name not in (".", "..")
            legal = legal and not name.startswith("__")
            self.assertEqual(backbone.name_error("kafka", name) == "", legal, name)

    def test_property_broker_urls_of_any_host_port_and_path_pass_and_credentials_never_do(self):
        rng = random.Random(1818)
        hosts = ["rabbit", "mq.plant.local", "192.168.7.20", "[::1]", "[fd00::2:1]", "node_3"]
        for _round in range(300):
            kind = rng.choice(["amqp", "redis"])
            scheme = rng.choice(backbone.URL_SCHEMES[kind])
            host = rng.choice(hosts)
            port = rng.choice(["", f":{rng.randint(1, 65535)}"])
            if kind == "amqp" and rng.random() < 0.3:
                # A cluster's nodes, tried in turn by the sidecar.
                port += "".join(
                    "," + rng.choice(hosts) + rng.choice(["", f":{rng.randint(1, 65535)}"])
                    for _ in range(rng.randint(1, 3))
                )
            path = rng.choice(["", "/", "/%2F", "/plant1"]) if kind == "amqp" else rng.choice(["", "/", "/0", "/15"])
            url = f"{scheme}://{host}{port}{path}"
            self.assertEqual(backbone.url_error(kind, url), "", url)
            self.assertEqual(backbone.tls_implied(kind, url), scheme in backbone.TLS_SCHEMES, url)
            userinfo = rng.choice(["user@", "user:pw@", ":pw@", "u%40x:p%3Aw@"])
            self.assertIn(
                "User and Password fields", backbone.url_error(kind, f"{scheme}://{userinfo}{host}{port}{path}")
            )
            self.assertEqual(backbone.without_userinfo(f"{scheme}://{userinfo}{host}{port}{path}"), url)

    def test_property_any_text_as_a_broker_url_gets_an_answer_never_an_exception(self):
        """Random text after every scheme: url_error answers '' or a message, it never raises (stray
        brackets once raised ValueError out of urlsplit; test_every_check_says_what_is_wrong keeps them)."""
        rng = random.Random(1819)
        alphabet = "ab1:[]@/?#,.%:f0"
        schemes = [f"{s}://" for kind in ("amqp", "redis") for s in backbone.URL_SCHEMES[kind]]
        schemes += ["redis+sentinel://", "redis+cluster://", ""]
        for _round in range(2000):
            kind = rng.choice(["amqp", "redis", "kafka"])
            url = rng.choice(schemes) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
            self.assertIsInstance(backbone.url_error(kind, url), str, url)
            mqtt_url = rng.choice([f"{s}://" for s in backbone.MQTT_SCHEMES] + [""]) + url.partition("://")[2]
            self.assertIsInstance(backbone.mqtt_url_error(mqtt_url), str, mqtt_url)

    def test_property_sentinel_urls_of_any_sentinels_name_and_database_pass_and_credentials_never_do(self):
        rng = random.Random(2607)
        hosts = ["s1", "sentinel.plant.local", "10.0.0.9", "[::1]", "[fd00::7]", "node_3"]
        names = ["mymaster", "plant-1", "line%201", "%C3%BCber", "a.b_c"]
        for _round in range(300):
            sentinels = ",".join(
                rng.choice(hosts) + rng.choice(["", f":{rng.randint(1, 65535)}"]) for _ in range(rng.randint(1, 3))
            )
            path = f"/{rng.choice(names)}" + rng.choice(["", "/", "/0", "/15"])
            url = f"redis+sentinel://{sentinels}{path}"
            self.assertEqual(backbone.url_error("redis", url), "", url)
            self.assertTrue(backbone.is_sentinel_url(url))
            self.assertFalse(backbone.tls_implied("redis", url), url)
            userinfo = rng.choice(["user@", "user:pw@", ":pw@"])
            self.assertIn(
                "User and Password fields", backbone.url_error("redis", f"redis+sentinel://{userinfo}{sentinels}{path}")
            )

    def test_property_a_valid_bootstrap_list_survives_spacing_and_any_broken_entry_is_named(self):
        rng = random.Random(1804)
        hosts = ["k1", "kafka.plant.local", "10.1.2.3", "[fd00::1]", "K_2"]
        for _round in range(300):
            entries = [f"{rng.choice(hosts)}:{rng.randint(1, 65535)}" for _ in range(rng.randint(1, 4))]
            spaced = ",".join(" " * rng.randint(0, 2) + entry + " " * rng.randint(0, 2) for entry in entries)
            self.assertEqual(backbone.url_error("kafka", spaced), "", spaced)
            broken = list(entries)
            index = rng.randrange(len(broken))
            broken[index] = rng.choice([broken[index].rsplit(":", 1)[0], broken[index] + "x", "", "h:0"])
            error = backbone.url_error("kafka", ",".join(broken))
            self.assertNotEqual(error, "", broken)

    # ------------------------------------------------------------------ payload mappings

    def map_values(self, connection, **values):
        return {
            "connection_id": connection.id,
            "name": "Line JSON",
            "match": "#",
            "expression": "{'id': id}",
            **values,
        }

    def test_payload_maps_for_the_connection_kind(self):
        connection = self.make("kafka")
        mapping = self.env["shopfloor.payload.map"].create(
            self.map_values(connection, transport="kafka", match="shopfloor.events")
        )
        [sent] = self.config_of(connection)["payload_maps"]
        self.assertEqual((sent["transport"], sent["match"]), ("kafka", "shopfloor.events"))
        with self.assertRaisesRegex(ValidationError, "'\\+' must be a whole level"), self.cr.savepoint():
            mapping.match = "shopfloor.+"
        with (
            self.assertRaisesRegex(
                ValidationError, "transport Redis stream is for a connection of that kind; connection bb-kafka is Kafka"
            ),
            self.cr.savepoint(),
        ):
            mapping.transport = "redis"
        with self.assertRaisesRegex(ValidationError, "cannot become RabbitMQ"), self.cr.savepoint():
            connection.write({"kind": "amqp", **VALID["amqp"]})
        # MQTT and HTTP mappings stay possible (an HTTP intake runs beside any kind).
        self.env["shopfloor.payload.map"].create(self.map_values(connection, transport="http", match="mes/x"))

    def test_a_new_mapping_on_a_queue_connection_is_for_its_broker(self):
        connection = self.make("redis")
        with Form(self.env["shopfloor.payload.map"]) as form:
            form.connection_id = connection
            self.assertEqual(form.transport, "redis")
            form.name = "Streams"
            form.match = "shopfloor:events"
            form.expression = "$"
        self.assertEqual(form.record.transport, "redis")

    def test_a_rejected_payload_of_a_queue_connection_prefills_its_transport(self):
        connection = self.make("amqp", backbone_names="sfb.events")
        connection.integration_user_ids = [(4, self.sidecar.id)]

        sent = iter(range(1, 100))

        def reject(origin):
            raw = b'{"not": "an event"}'
            [result] = (
                self.env["shopfloor.event"]
                .with_user(self.sidecar)
                .ingest(
                    [
                        {
                            "rejected": True,
                            "id": f"rej-{next(sent)}",
                            "source": origin,
                            "connection": connection.code,
                            "raw_b64": base64.b64encode(raw).decode(),
                            "raw_size": len(raw),
                            "truncated": False,
                            "reason": "not a CloudEvent",
                            "observedtime": self.iso(self.at(1)),
                        }
                    ]
                )
            )
            self.assertEqual(result["status"], "rejected")
            return self.env["shopfloor.event"].browse(result["event_id"])

        context = reject("sfb.events").with_user(self.manager).action_create_payload_map()["context"]
        self.assertEqual((context["default_transport"], context["default_match"]), ("amqp", "sfb.events"))
        # With an HTTP intake beside it, an origin that is none of its queues came over HTTP.
        connection.http_enabled = True
        self.assertEqual(reject("mes/done").action_create_payload_map()["context"]["default_transport"], "http")
        self.assertEqual(reject("sfb.events").action_create_payload_map()["context"]["default_transport"], "amqp")

    def test_an_mqtt_floor_target_of_a_queue_connection_names_its_broker(self):
        connection = self.make("kafka")
        values = {"connection_id": connection.id, "workcenter_id": self.wc_press1.id, "kind": "mqtt", "depth": 1}
        with self.assertRaisesRegex(ValidationError, "takes its input from Kafka and has no MQTT broker"):
            with self.cr.savepoint():
                self.env["shopfloor.dispatch.target"].create({**values, "mqtt_topic": "plant1/queue"})
        target = self.env["shopfloor.dispatch.target"].create(
            {**values, "mqtt_topic": "plant1/queue", "mqtt_url": "mqtt://127.0.0.1:1883"}
        )
        self.assertEqual(self.config_of(connection)["dispatch"]["targets"][0]["params"]["url"], "mqtt://127.0.0.1:1883")
        self.assertTrue(target)
        # Its broker URL is checked as the connection's is.
        with self.assertRaisesRegex(ValidationError, r"Broker URL: MQTT over TCP has no \?query"):
            with self.cr.savepoint():
                target.mqtt_url = "mqtt://127.0.0.1:1883?clientId=x"
        # An MQTT connection whose target uses its broker cannot become a queue connection unnoticed.
        self.connection.mqtt_url = "mqtt://127.0.0.1:1883"
        self.env["shopfloor.dispatch.target"].create(
            {**values, "connection_id": self.connection.id, "mqtt_topic": "plant1/queue"}
        )
        with self.assertRaisesRegex(ValidationError, "Connection test-conn takes its input from Redis Streams"):
            self.connection.write({"kind": "redis", **VALID["redis"]})

    def test_the_dashboard_tile_names_the_broker_without_credentials(self):
        self.make("kafka", backbone_url="kafka1:9092, kafka2:9092", backbone_names="a.events\nb.events")
        self.connection.mqtt_url = "mqtts://sfb:pw@broker.plant:8883/"
        tiles = {tile["code"]: tile for tile in self.env["shopfloor.dashboard"].get_dashboard()["tiles"]}
        self.assertEqual(
            (tiles["bb-kafka"]["kind_label"], tiles["bb-kafka"]["endpoint"]),
            ("Kafka", "kafka1:9092,kafka2:9092 · a.events, b.events"),
        )
        self.assertEqual(tiles["test-conn"]["endpoint"], "mqtts://broker.plant:8883/")

    # ------------------------------------------------------------------ views

    def test_the_form_creates_each_kind(self):
        for kind in backbone.BACKBONE_KINDS:
            with self.subTest(kind=kind):
                with Form(self.env["shopfloor.connection"].with_user(self.manager)) as form:
                    form.name = f"Form {kind}"
                    form.code = f"form-{kind}"
                    form.kind = kind
                    self.assertTrue(form.is_backbone)
                    for field, value in VALID[kind].items():
                        setattr(form, field, value)
                    form.backbone_password = "typed"
                    form.delivery_partitions = 3
                connection = form.record
                self.assertEqual((connection.kind, connection.delivery_partitions), (kind, 3))
                self.assertEqual(connection.sudo().backbone_password_secret, "typed")

    def test_the_form_turns_tls_on_for_a_tls_url(self):
        with Form(self.env["shopfloor.connection"]) as form:
            form.name = "TLS"
            form.code = "form-tls"
            form.kind = "redis"
            form.backbone_url = "rediss://redis.plant:6380/0"
            self.assertTrue(form.backbone_tls)
            form.backbone_url = "redis://redis.plant:6379/0"
            self.assertFalse(form.backbone_tls)
            form.backbone_url = "rediss://redis.plant:6380/0"
            form.backbone_names = "events"
            form.backbone_group = "sfb"
        self.assertTrue(self.config_of(form.record)["backbone"]["tls"])
        self.assertTrue(form.record.backbone_tls)

    def test_the_mqtt_form_still_needs_its_broker_and_hides_the_queue(self):
        form = Form(self.env["shopfloor.connection"])
        form.name = "MQTT"
        form.code = "form-mqtt"
        self.assertFalse(form.is_backbone)
        with self.assertRaisesRegex(AssertionError, "mqtt_url"):
            form.save()

    def test_the_kind_filters_find_the_new_kinds(self):
        self.make("kafka")
        self.make("redis")
        view = self.env.ref("shopfloor_bridge.shopfloor_connection_view_search")
        for kind in backbone.BACKBONE_KINDS:
            self.assertIn(f'<filter name="{kind}"', view.arch)
        self.assertEqual(self.env["shopfloor.connection"].search([("kind", "=", "kafka")]).mapped("code"), ["bb-kafka"])
        kafka_map = self.env["shopfloor.payload.map"].create(
            self.map_values(self.env["shopfloor.connection"].search([("code", "=", "bb-kafka")]), transport="kafka")
        )
        maps = etree.fromstring(self.env.ref("shopfloor_bridge.shopfloor_payload_map_view_search").arch)
        [queue_filter] = maps.xpath("//filter[@name='message_queue']")
        self.assertEqual(
            self.env["shopfloor.payload.map"].search(ast.literal_eval(queue_filter.get("domain"))),
            kafka_map,
        )
