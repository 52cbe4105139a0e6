"""The HTTP intake settings, its producers and their tokens; the Sparkplug host role."""

import hashlib

import psycopg2

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from .common import ShopfloorCase

PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


@tagged("post_install", "-at_install")
class TestHttpProducer(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, "http-manager", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager"
        )
        cls.bridge_user = new_test_user(
            cls.env, "http-user", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )
        cls.connection.write({"http_enabled": True})

    def producer(self, **values):
        return (
            self.env["shopfloor.http.producer"]
            .with_user(self.manager)
            .create({"connection_id": self.connection.id, "name": "MES", **values})
        )

    def generate(self, producer):
        """The token the dialog shows, read as the web client does (the form's defaults)."""
        action = producer.action_generate_token()
        self.assertNotIn("res_id", action, "no record holds the token")
        dialog = Form(self.env[action["res_model"]].with_user(self.manager).with_context(**action["context"]))
        return action, dialog.token

    def config(self):
        return self.env["shopfloor.connection"].sidecar_config("test-conn")

    def test_token_shown_once_only_its_hash_kept(self):
        producer = self.producer(source_prefix="plant1/line3/")
        self.assertFalse(self.config()["http"]["producers"], "no token yet: nobody can post as it")
        wizard, token = self.generate(producer)
        self.assertGreaterEqual(len(token), 43, "32 random bytes, URL-safe base64")
        digest = hashlib.sha256(token.encode()).hexdigest()
        self.assertEqual((producer.token_sha256, producer.token_hint), (digest, token[-4:]))
        stored = producer.read()[0]
        self.assertNotIn(token, repr(stored), "the producer keeps no copy of the token")
        self.assertEqual(
            self.config()["http"]["producers"],
            [{"name": "MES", "token_sha256": digest, "source_prefix": "plant1/line3/"}],
        )
        self.assertEqual(wizard["context"]["default_producer_name"], "MES")
        # Nothing in the database holds the token: only the action that showed it.
        for table in ("shopfloor_http_producer", "mail_message"):
            self.env.flush_all()
            self.env.cr.execute(
                f"SELECT count(*) FROM {table} WHERE row_to_json({table})::text LIKE %s", [f"%{token}%"]
            )
            self.assertEqual(self.env.cr.fetchone()[0], 0, table)

    def test_regenerate_replaces_the_token_and_moves_the_revision(self):
        producer = self.producer()
        _wizard, first = self.generate(producer)
        revision = self.connection.revision
        _wizard, second = self.generate(producer)
        self.assertNotEqual(first, second)
        self.assertEqual(producer.token_sha256, hashlib.sha256(second.encode()).hexdigest())
        self.assertGreater(self.connection.revision, revision, "the sidecar reloads and refuses the old token")
        sent = [p["token_sha256"] for p in self.config()["http"]["producers"]]
        self.assertEqual(sent, [hashlib.sha256(second.encode()).hexdigest()])

    def test_token_fields_only_through_the_wizard(self):
        producer = self.producer()
        with self.assertRaisesRegex(AccessError, "token_sha256"):
            producer.write({"token_sha256": "0" * 64})
        with self.assertRaisesRegex(AccessError, "token_sha256"):
            self.producer(name="Sneaky", token_sha256="0" * 64)

    def test_producer_changes_bump_the_revision(self):
        revision = self.connection.revision
        producer = self.producer()
        self.assertEqual(self.connection.revision, revision + 1)
        producer.active = False
        self.assertEqual(self.connection.revision, revision + 2)
        self.assertIn("HTTP producer MES", self.connection.message_ids[0].body)
        producer.unlink()
        self.assertEqual(self.connection.revision, revision + 3)

    def test_inactive_producers_are_not_sent(self):
        producer = self.producer()
        self.generate(producer)
        producer.active = False
        self.assertEqual(self.config()["http"]["producers"], [])

    def test_only_managers_see_producers(self):
        producer = self.producer()
        self.generate(producer)
        as_user = self.env["shopfloor.http.producer"].with_user(self.bridge_user)
        with self.assertRaises(AccessError):
            as_user.search([])
        with self.assertRaises(AccessError):
            producer.with_user(self.bridge_user).read(["token_sha256"])
        with self.assertRaises(AccessError):
            producer.with_user(self.bridge_user).action_generate_token()
        # The connection form of a bridge user shows no producers.
        arch = self.env["shopfloor.connection"].with_user(self.bridge_user).get_views([(False, "form")])
        self.assertNotIn("http_producer_ids", arch["views"]["form"]["arch"])
        self.assertNotIn("http_producer_ids", self.connection.with_user(self.bridge_user).read()[0])

    def test_other_company_producers_are_invisible(self):
        other = self.env["res.company"].create({"name": "Far plant"})
        connection = self.env["shopfloor.connection"].create({"code": "far", "name": "Far", "company_id": other.id})
        self.env["shopfloor.http.producer"].create({"connection_id": connection.id, "name": "Far MES"})
        self.assertFalse(self.env["shopfloor.http.producer"].with_user(self.manager).search([("name", "=", "Far MES")]))

    def test_http_block_matches_the_contract(self):
        self.connection.write(
            {
                "http_port": 8443,
                "http_bind": "127.0.0.1",
                "http_tls_cert": PEM_CERT,
                "http_tls_key": PEM_KEY,
                "http_max_body_bytes": 2_000_000,
            }
        )
        http = self.config()["http"]
        self.assertEqual(
            http,
            {
                "port": 8443,
                "bind": "127.0.0.1",
                "tls_cert": PEM_CERT,
                "tls_key": PEM_KEY,
                "max_body_bytes": 2_000_000,
                "producers": [],
            },
        )
        self.assertFalse(self.connection.read(["http_tls_key"])[0]["http_tls_key"], "the key is write-only")
        self.assertIn("TLS private key", self.connection.secrets_set)
        self.connection.http_enabled = False
        self.assertIs(self.config()["http"], False)

    def test_http_settings_move_the_revision(self):
        revision = self.connection.revision
        self.connection.http_port = 9000
        self.assertEqual(self.connection.revision, revision + 1)
        self.assertIn("HTTP port", self.connection.message_ids[0].body)
        self.connection.http_port = 9000
        self.assertEqual(self.connection.revision, revision + 1, "an unchanged value moves nothing")
        self.connection.http_tls_key = PEM_KEY
        self.assertEqual(self.connection.revision, revision + 2)

    def test_http_settings_checked(self):
        with self.assertRaisesRegex(ValidationError, "PEM"):
            self.connection.http_tls_cert = "not a certificate"
        for field, value in (("http_port", 0), ("http_port", 70000), ("http_max_body_bytes", 10)):
            with (
                self.subTest(field=field, value=value),
                mute_logger("odoo.sql_db"),
                self.assertRaises(psycopg2.errors.CheckViolation),
                self.env.cr.savepoint(),
            ):
                self.connection.write({field: value})
                self.connection.flush_recordset()

    def test_sparkplug_host_role(self):
        self.connection.write({"kind": "sparkplug", "sparkplug_group_id": "plant1", "mqtt_url": "mqtt://localhost"})
        self.assertEqual(self.config()["sparkplug"]["role"], "primary")
        with Form(self.connection) as form:
            form.sparkplug_host_role = "passive"
        self.assertEqual(
            self.config()["sparkplug"], {"group_id": "plant1", "host_id": "sfb-test-conn", "role": "passive"}
        )
