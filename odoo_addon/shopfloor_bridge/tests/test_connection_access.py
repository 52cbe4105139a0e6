"""Who may act for a connection: the sidecar API, event keys, secrets, the key wizard."""

from datetime import timedelta

import psycopg2

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import ShopfloorCase, captured, refuse

INTEGRATION = "shopfloor_bridge.shopfloor_bridge_group_integration"


@tagged("post_install", "-at_install")
class TestConnectionAccess(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.sidecar1 = new_test_user(env, "sf-access-plant1", groups=INTEGRATION)
        cls.sidecar2 = new_test_user(env, "sf-access-plant2", groups=INTEGRATION)
        cls.connection.integration_user_ids = [(4, cls.sidecar1.id)]
        cls.plant2 = env["shopfloor.connection"].create(
            {
                "code": "plant2",
                "name": "Plant 2",
                "kind": "mqtt",
                "integration_user_ids": [(4, cls.sidecar2.id)],
                "source_map_ids": [(0, 0, {"source": "plant2/press", "workcenter_id": cls.wc_press2.id})],
            }
        )
        cls.manager = new_test_user(
            env, "sf-access-mgr", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_manager"
        )

    def started(self, connection="test-conn", **envelope):
        event = self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, **envelope)
        event["connection"] = connection
        return event

    # ------------------------------------------------------------------ sidecar API

    def test_only_the_connections_integration_users_call_its_api(self):
        Connection = self.env["shopfloor.connection"]
        self.assertEqual(Connection.with_user(self.sidecar1).sidecar_config("test-conn")["code"], "test-conn")
        self.assertIn("revision", Connection.with_user(self.sidecar1).heartbeat("test-conn", {}))
        self.assertEqual(self.env["shopfloor.dispatch"].with_user(self.sidecar1).pull("test-conn"), [])
        # Another plant's sidecar: refused, naming the user and the connection.
        for call in (
            lambda: Connection.with_user(self.sidecar2).sidecar_config("test-conn"),
            lambda: Connection.with_user(self.sidecar2).heartbeat("test-conn", {}),
            lambda: self.env["shopfloor.dispatch"].with_user(self.sidecar2).pull("test-conn"),
        ):
            with self.assertRaisesRegex(AccessError, "sf-access-plant2 may not act for connection test-conn"):
                call()
        # A manager (or anyone not listed) is not a sidecar.
        for call in (
            lambda: Connection.with_user(self.manager).sidecar_config("test-conn"),
            lambda: self.env["shopfloor.event"].with_user(self.manager).ingest([self.started()]),
            lambda: self.env["shopfloor.dispatch"].with_user(self.manager).ack([]),
        ):
            with self.assertRaisesRegex(AccessError, "sf-access-mgr may not call the Shop Floor Bridge sidecar API"):
                call()
        self.assertFalse(self.env["shopfloor.event"].search([]))

    def test_removing_an_integration_user_takes_its_access_away(self):
        Connection = self.env["shopfloor.connection"].with_user(self.sidecar1)
        Connection.sidecar_config("test-conn")
        self.connection.integration_user_ids = [(3, self.sidecar1.id)]
        with self.assertRaisesRegex(AccessError, "not an integration user of any connection"):
            Connection.sidecar_config("test-conn")

    def test_integration_users_must_be_technical_users_of_the_company(self):
        with self.assertRaisesRegex(ValidationError, "not in the group"):
            self.connection.integration_user_ids = [(4, self.manager.id)]
        other = self.env["res.company"].create({"name": "Other Co"})
        with self.assertRaisesRegex(ValidationError, "company Other Co is not one of its companies"):
            self.env["shopfloor.connection"].create(
                {
                    "code": "other",
                    "name": "Other",
                    "company_id": other.id,
                    "integration_user_ids": [(4, self.sidecar1.id)],
                }
            )

    # ------------------------------------------------------------------ ingest

    def test_events_for_a_connection_the_caller_does_not_act_for_are_stored_rejected(self):
        Event = self.env["shopfloor.event"].with_user(self.sidecar2)
        results = Event.ingest(
            [
                self.started(connection="test-conn", id="cross-1"),
                self.started(connection="nowhere", id="cross-2"),
                self.started(connection=None, id="cross-3"),
                {
                    "rejected": True,
                    "id": "raw-1",
                    "source": "plant1/line1/press-01",
                    "connection": "test-conn",
                    "raw_b64": "eyJ4Ijo=",
                    "raw_size": 5,
                    "reason": "not JSON",
                },
            ]
        )
        self.assertEqual([r["status"] for r in results], ["rejected"] * 4)
        self.assertIn("sf-access-plant2 may not act for connection test-conn", results[0]["error"])
        self.assertIn(
            "names connection nowhere, which is not a connection sf-access-plant2 acts for", results[1]["error"]
        )
        self.assertIn("names no connection", results[2]["error"])
        events = self.env["shopfloor.event"].browse([r["event_id"] for r in results])
        # Kept where the sending plant looks (its own connection), never applied, never in plant 1.
        self.assertEqual(events.connection_id, self.plant2)
        self.assertEqual(set(events.mapped("error_class")), {"forbidden"})
        self.assertEqual(events.mapped("connection_code"), ["test-conn", "nowhere", False, "test-conn"])
        self.assertFalse(events.workcenter_id)
        self.assertFalse(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting")))
        self.assertFalse(self.env["shopfloor.event"].search([("connection_id", "=", self.connection.id)]))
        # Plant 1's own sidecar sends the same event: applied.
        [own] = self.env["shopfloor.event"].with_user(self.sidecar1).ingest([self.started(id="cross-1")])
        self.assertEqual(own["status"], "applied", own["error"])

    def test_refusals_follow_each_events_connection_within_one_batch(self):
        # Ingest works out each connection's scope once per batch: interleaved
        # codes still get their own answer, stored under the right connection.
        codes = ["test-conn", self.plant2.code, "nowhere", self.plant2.code, "test-conn", None, self.plant2.code]
        results = (
            self.env["shopfloor.event"]
            .with_user(self.sidecar2)
            .ingest([self.started(connection=code, id=f"mixed-{index}") for index, code in enumerate(codes)])
        )
        events = self.env["shopfloor.event"].browse([r["event_id"] for r in results])
        self.assertEqual(events.connection_id, self.plant2)
        for code, result, event in zip(codes, results, events, strict=True):
            with self.subTest(code=code, id=event.event_uid):
                if code == self.plant2.code:
                    self.assertNotEqual(event.error_class, "forbidden")
                    self.assertNotEqual(result["status"], "rejected")
                else:
                    self.assertEqual((result["status"], event.error_class), ("rejected", "forbidden"))
        self.assertIn("may not act for connection test-conn", results[4]["error"])
        self.assertIn("names connection nowhere", results[2]["error"])
        self.assertIn("names no connection", results[5]["error"])

    def test_the_idempotency_key_is_scoped_per_connection(self):
        first = self.started(id="same-id", source="shared/press")
        second = dict(first, connection="plant2")
        [one] = self.env["shopfloor.event"].with_user(self.sidecar1).ingest([first])
        [two] = self.env["shopfloor.event"].with_user(self.sidecar2).ingest([second])
        self.assertNotEqual(one["event_id"], two["event_id"])
        self.assertNotEqual(two["status"], "duplicate")
        [again] = self.env["shopfloor.event"].with_user(self.sidecar2).ingest([second])
        self.assertEqual((again["status"], again["event_id"]), ("duplicate", two["event_id"]))
        events = self.env["shopfloor.event"].browse([one["event_id"], two["event_id"]])
        self.assertEqual(events.mapped("key_scope"), [self.connection.id, self.plant2.id])

    def test_a_purged_events_key_still_answers_duplicate(self):
        [result] = self.ingest(self.started(id="purged-1"))
        self.assertEqual(result["status"], "applied", result["error"])
        event = self.env["shopfloor.event"].browse(result["event_id"])
        event.sudo().write({"applied_time": fields.Datetime.now() - timedelta(days=100)})
        self.assertEqual(self.env["shopfloor.event"]._cron_purge_applied(), 1)
        self.assertFalse(event.exists())
        logs = len(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting")))
        with self.assertNoLogs("odoo.addons.shopfloor_bridge.services.hooks", "ERROR"):  # the hooks skip the gone row
            [again] = self.ingest(self.started(id="purged-1"))
        self.assertEqual((again["status"], again["event_id"]), ("duplicate", result["event_id"]))
        self.assertFalse(self.env["shopfloor.event"].search([("event_uid", "=", "purged-1")]))
        self.assertEqual(len(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))), logs)
        # Another plant's event with the same source and id is its own.
        [other] = self.env["shopfloor.event"].with_user(self.sidecar2).ingest([self.started("plant2", id="purged-1")])
        self.assertNotEqual(other["status"], "duplicate")
        # Past the key retention the key goes too.
        key = self.env["shopfloor.event.key"].search([("event_uid", "=", "purged-1")])
        key.write({"applied_time": fields.Datetime.now() - timedelta(days=800)})
        self.env["shopfloor.event"]._cron_purge_applied()
        self.assertFalse(key.exists())

    # ------------------------------------------------------------------ secrets

    def test_secrets_are_write_only(self):
        self.connection.with_user(self.manager).write(
            {
                "mqtt_password": "pw-123",
                "mqtt_client_key": "-----BEGIN PRIVATE KEY-----\nabc\n",
                "mqtt_client_cert": "C",
            }
        )
        as_manager = self.connection.with_user(self.manager)
        self.assertFalse(as_manager.mqtt_password)
        self.assertFalse(as_manager.read(["mqtt_password", "mqtt_client_key"])[0]["mqtt_client_key"])
        self.assertIn("MQTT password", as_manager.secrets_set)
        for column in ("mqtt_password_secret", "mqtt_client_key_secret", "opcua_password_secret"):
            with self.assertRaises(AccessError):
                as_manager.read([column])
        with self.assertRaises(AccessError):
            as_manager.write({"mqtt_password_secret": "x"})
        # An empty input keeps the stored secret (the form sends it when other fields change).
        as_manager.write({"mqtt_password": False, "name": "Renamed"})
        config = self.env["shopfloor.connection"].with_user(self.sidecar1).sidecar_config("test-conn")
        self.assertEqual(config["mqtt"]["password"], "pw-123")
        self.assertEqual(config["mqtt"]["client_key"], "-----BEGIN PRIVATE KEY-----\nabc\n")
        self.assertEqual(config["mqtt"]["client_cert"], "C")
        as_manager.action_clear_secrets()
        config = self.env["shopfloor.connection"].with_user(self.sidecar1).sidecar_config("test-conn")
        self.assertEqual((config["mqtt"]["password"], config["mqtt"]["client_key"]), ("", ""))
        reader = new_test_user(
            self.env, "sf-access-reader", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )
        with self.assertRaises(AccessError):
            self.connection.with_user(reader).write({"mqtt_password": "mine"})

    def test_a_failed_secret_update_does_not_log_the_secret(self):
        # Found by the e2e secrets test: a write of a secret that PostgreSQL refused (there, a
        # concurrent update of the row by the sidecar; Odoo retries the call) was logged by
        # Odoo's cursor as a "bad query" with its values. Here a trigger refuses it for real.
        secret = "pw-must-not-be-logged-4711"
        refuse(self.env.cr, "shopfloor_connection", "UPDATE", "mqtt_password_secret")
        with captured("odoo") as logged, self.assertRaises(psycopg2.Error) as refused, self.env.cr.savepoint():
            self.connection.with_user(self.manager).write({"mqtt_password": secret})
            self.env.flush_all()
        self.assertIn("refused for the test", str(refused.exception))
        self.assertFalse([line for line in logged if secret in line], logged)

    # ------------------------------------------------------------------ wizard

    def wizard(self, user, **values):
        return (
            self.env["shopfloor.integration.user"].with_user(user).with_context(active_id=self.plant2.id).create(values)
        )

    def test_wizard_creates_a_technical_user_and_a_key_shown_once(self):
        admin = new_test_user(
            self.env,
            "sf-access-admin",
            groups="base.group_user,base.group_erp_manager,shopfloor_bridge.shopfloor_bridge_group_manager",
        )
        action = self.wizard(admin, mode="create", login="sidecar-plant2-new").action_confirm()
        key = action["context"]["default_key"]
        user = self.env["res.users"].search([("login", "=", "sidecar-plant2-new")])
        self.assertEqual(user.groups_id, self.env.ref(INTEGRATION))
        self.assertEqual(user.company_ids, self.plant2.company_id)
        self.assertIn(user, self.plant2.integration_user_ids)
        self.assertEqual(self.env["res.users.apikeys"]._check_credentials(scope="rpc", key=key), user.id)
        [stored] = self.env["res.users.apikeys"].sudo().search([("user_id", "=", user.id)])
        lifetime = stored.expiration_date - fields.Datetime.now()
        self.assertTrue(timedelta(days=179) < lifetime <= timedelta(days=180), lifetime)
        self.assertTrue(self.plant2.integration_key_expiry)
        self.assertFalse(self.plant2.integration_key_expiring)
        # The key acts for plant 2 only.
        self.assertEqual(self.env["shopfloor.connection"].with_user(user).sidecar_config("plant2")["code"], "plant2")
        with self.assertRaisesRegex(AccessError, "may not act for connection test-conn"):
            self.env["shopfloor.connection"].with_user(user).sidecar_config("test-conn")
        # Renewal: a new key, the old one revoked on request.
        renewed = self.wizard(admin, mode="renew", user_id=user.id, duration="30", revoke_old=True).action_confirm()
        new_key = renewed["context"]["default_key"]
        self.assertNotEqual(new_key, key)
        self.assertFalse(self.env["res.users.apikeys"]._check_credentials(scope="rpc", key=key))
        self.assertEqual(self.env["res.users.apikeys"]._check_credentials(scope="rpc", key=new_key), user.id)
        self.plant2.invalidate_recordset(["integration_key_expiry", "integration_key_expiring"])
        self.assertTrue(self.plant2.integration_key_expiring)
        # Renewing for someone who is not this connection's integration user is refused.
        with self.assertRaisesRegex(Exception, "is not an integration user of plant2"):
            self.wizard(admin, mode="renew", user_id=self.sidecar1.id).action_confirm()

    def test_wizard_needs_the_access_rights_group(self):
        with self.assertRaisesRegex(AccessError, "Administration / Access Rights"):
            self.wizard(self.manager, mode="create", login="sidecar-x").action_confirm()
        self.assertFalse(self.env["res.users"].search([("login", "=", "sidecar-x")]))

    # ------------------------------------------------------------------ audited paths only

    def test_audited_fields_are_not_writable_over_plain_write(self):
        [result] = self.ingest(self.make_event("bogus.type", {}))
        event = self.env["shopfloor.event"].with_user(self.manager).browse(result["event_id"])
        for values, action in (
            ({"state": "applied"}, "Retry / Discard"),
            ({"data_json": "{}"}, "Edit and retry"),
            ({"company_id": self.env.company.id}, "set by the shop-floor bridge"),
        ):
            with self.assertRaisesRegex(AccessError, action):
                event.write(values)
        with self.assertRaisesRegex(AccessError, "create of"):
            self.env["shopfloor.event"].with_user(self.manager).create(
                {"event_uid": "x", "source": "y", "company_id": self.env.company.id}
            )
        self.assertEqual(event.state, "rejected")
        connection = self.connection.with_user(self.manager)
        for values in ({"revision": 99}, {"last_seen": fields.Datetime.now()}, {"spool_depth": 0}):
            with self.assertRaisesRegex(AccessError, "only audited actions may change them"):
                connection.write(values)
        other = self.env["res.company"].create({"name": "Elsewhere"})
        self.manager.company_ids = [(4, other.id)]
        with self.assertRaisesRegex(AccessError, "company \\(company_id\\) of connection test-conn cannot change"):
            connection.write({"company_id": other.id})
        connection.write({"name": "Still editable", "batch_size": 100})
        self.assertEqual(self.connection.batch_size, 100)

    def test_opcua_floor_targets_of_an_mqtt_connection_get_its_opcua_security(self):
        self.connection.write(
            {
                "opcua_security_mode": "SignAndEncrypt",
                "opcua_security_policy": "Aes256_Sha256_RsaPss",
                "opcua_auth": "certificate",
            }
        )
        Connection = self.env["shopfloor.connection"].with_user(self.sidecar1)
        self.assertIs(Connection.sidecar_config("test-conn")["opcua"], False)
        self.env["shopfloor.dispatch.target"].create(
            {"connection_id": self.connection.id, "workcenter_id": self.wc_press1.id, "kind": "opcua"}
        )
        opcua = Connection.sidecar_config("test-conn")["opcua"]
        self.assertEqual(
            (opcua["security_mode"], opcua["security_policy"], opcua["auth"]),
            ("SignAndEncrypt", "Aes256_Sha256_RsaPss", "certificate"),
        )
