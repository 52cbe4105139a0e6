"""Historian import connections (CSV drop folder, SQL query): fields, checks, sidecar_config, batch mode."""

from datetime import datetime
from unittest.mock import patch

import psycopg2

from odoo.exceptions import ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from ..models.shopfloor_payload_map import origin_transport
from .common import ShopfloorCase

INTEGRATION = "shopfloor_bridge.shopfloor_bridge_group_integration"
QUERY = "SELECT DateTime, TagName, Value FROM history WHERE DateTime >= :last ORDER BY DateTime"


@tagged("post_install", "-at_install")
class TestHistorian(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sidecar = new_test_user(cls.env, "hist-sidecar", groups=INTEGRATION)

    def make(self, kind, code=None, **values):
        defaults = {
            "folder": {"folder_path": "/srv/exports"},
            "sql": {
                "sql_host": "db.plant",
                "sql_database": "Runtime",
                "sql_username": "reader",
                "sql_query": QUERY,
            },
        }[kind]
        return self.env["shopfloor.connection"].create(
            {"code": code or f"hist-{kind}", "name": f"Historian {kind}", "kind": kind, **defaults, **values}
        )

    def config_of(self, connection):
        connection.integration_user_ids = [(4, self.sidecar.id)]
        return self.env["shopfloor.connection"].with_user(self.sidecar).sidecar_config(connection.code)

    def test_folder_config_block(self):
        connection = self.make(
            "folder", folder_pattern="line2_*.CSV", folder_encoding="utf-16", folder_delimiter="semicolon"
        )
        config = self.config_of(connection)
        self.assertEqual(config["kind"], "folder")
        self.assertEqual(
            config["folder"],
            {
                "path": "/srv/exports",
                "pattern": "line2_*.CSV",
                "encoding": "utf-16",
                "delimiter": "semicolon",
                "settle_ms": 5000,
                "poll_interval_ms": 5000,
            },
        )
        self.assertEqual((config["sql"], config["mqtt"], config["backbone"]), (False, False, False))

    def test_sql_config_block_carries_the_password_only_to_the_sidecar(self):
        connection = self.make("sql", sql_driver="mariadb", sql_port=3307, sql_password="db-secret")
        config = self.config_of(connection)
        self.assertEqual(
            config["sql"],
            {
                "driver": "mariadb",
                "host": "db.plant",
                "port": 3307,
                "database": "Runtime",
                "username": "reader",
                "password": "db-secret",
                "query": QUERY,
                "watermark_column": "DateTime",
                "initial_watermark": "1970-01-01 00:00:00",
                "interval_ms": 10000,
            },
        )
        self.assertFalse(config["folder"])
        # Write-only: nobody reads it back from the form.
        self.assertFalse(connection.sql_password)
        self.assertIn("Database password", connection.secrets_set)

    def test_other_kinds_have_no_historian_blocks(self):
        config = self.config_of(self.connection)
        self.assertEqual((config["folder"], config["sql"]), (False, False))

    def test_checks_on_save_name_the_field(self):
        cases = [
            ("folder", {"folder_path": "exports"}, "Drop folder: 'exports' is not an absolute path"),
            ("folder", {"folder_pattern": "a/*.csv"}, "File pattern:"),
            ("folder", {"folder_pattern": "*.tmp"}, "never takes"),
            ("sql", {"sql_query": "DELETE FROM history WHERE DateTime >= :last"}, "must be a SELECT"),
            ("sql", {"sql_query": "SELECT * FROM history ORDER BY DateTime"}, "needs :last"),
            ("sql", {"sql_query": "SELECT * FROM h WHERE DateTime > :last ORDER BY DateTime"}, "not > :last"),
            ("sql", {"sql_query": "SELECT * FROM h WHERE DateTime >= :last"}, "ORDER BY the watermark column"),
            ("sql", {"sql_query": "SELECT * FROM h; DROP TABLE h WHERE x >= :last ORDER BY x"}, "writes"),
            ("sql", {"sql_host": " "}, "Database host is required"),
            ("sql", {"sql_initial_watermark": "x' OR '1"}, "Initial watermark"),
        ]
        for index, (kind, values, message) in enumerate(cases):
            with self.subTest(values=values), self.assertRaisesRegex(ValidationError, message), self.env.cr.savepoint():
                self.make(kind, code=f"bad-{kind}-{index}", **values)

    def test_ranges_are_checked(self):
        connection = self.make("folder")
        for values in ({"folder_settle_ms": -1}, {"folder_poll_interval_ms": 10}, {"batch_apply_hour": 24}):
            with (
                self.subTest(values=values),
                mute_logger("odoo.sql_db"),
                self.assertRaises(psycopg2.IntegrityError),
                self.env.cr.savepoint(),
            ):
                connection.write(values)
                connection.flush_recordset()

    def test_a_setting_change_moves_the_revision(self):
        connection = self.make("sql")
        before = connection.revision
        connection.sql_query = QUERY.replace("history", "history2")
        self.assertEqual(connection.revision, before + 1)
        connection.sql_password = "new"
        self.assertEqual(connection.revision, before + 2)

    def test_payload_mapping_transport_follows_the_kind(self):
        folder = self.make("folder")
        sql = self.make("sql")
        preset = self.env.ref("shopfloor_bridge.preset_wonderware_history_narrow")
        for connection, transport in ((folder, "file"), (sql, "sql")):
            with Form(self.env["shopfloor.payload.map"]) as form:
                form.connection_id = connection
                form.preset_id = preset
                form.match = "#"
            self.assertEqual(form.record.transport, transport)
        with self.assertRaisesRegex(ValidationError, "never see a payload"):
            self.env["shopfloor.payload.map"].create(
                {"connection_id": folder.id, "name": "x", "transport": "sql", "match": "#", "expression": "$"}
            )
        config = self.config_of(sql)
        self.assertEqual([m["transport"] for m in config["payload_maps"]], ["sql"])

    def test_presets_for_the_historian_shapes_exist(self):
        codes = set(self.env["shopfloor.payload.preset"].search([("transport", "=", "file")]).mapped("code"))
        self.assertEqual(codes, {"wonderware_history_narrow", "wonderware_history_wide", "generic_columns_events"})

    # ------------------------------------------------------------------ batch mode

    def event(self, event_id, minutes):
        return self.make_event(
            "workorder.started",
            {"order": self.mo1.name, "operation": "Cutting"},
            id=event_id,
            time=self.at(minutes=minutes),
        )

    def test_batch_mode_stores_now_and_the_cron_applies_from_the_batch_time(self):
        self.connection.write({"apply_mode": "batch", "batch_apply_hour": 2.5})
        now = datetime(2026, 3, 1, 14, 0)
        with patch("odoo.fields.Datetime.now", return_value=now):
            result, record = self.ingest_one(self.event("hist-batch-1", 0))
        self.assertEqual(result["status"], "pending")
        self.assertEqual((record.state, record.attempts, record.error_class), ("pending", 0, "batch"))
        self.assertEqual(record.next_retry_at, datetime(2026, 3, 2, 2, 30))  # the company's tz is UTC here
        self.assertFalse(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting")))
        # Before the batch time the cron leaves it; from it on, the cron applies it.
        with patch("odoo.fields.Datetime.now", return_value=datetime(2026, 3, 2, 2, 0)):
            self.env["shopfloor.event"]._cron_retry()
        self.assertEqual(record.state, "pending")
        with patch("odoo.fields.Datetime.now", return_value=datetime(2026, 3, 2, 2, 31)):
            self.env["shopfloor.event"]._cron_retry()
        self.assertEqual(record.state, "applied", record.error_message)
        self.assertEqual(len(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting"))), 1)
        # The same event sent again is a duplicate, in batch mode too.
        [again] = self.ingest(self.event("hist-batch-1", 0))
        self.assertEqual(again["status"], "duplicate")

    def test_batch_time_in_the_company_time_zone(self):
        self.connection.write({"apply_mode": "batch", "batch_apply_hour": 2.0})
        self.connection.company_id.partner_id.tz = "Europe/Berlin"
        # 14:00 UTC on 1 March is 15:00 in Berlin: next 02:00 Berlin is 01:00 UTC on 2 March.
        self.assertEqual(self.connection._next_batch_time(datetime(2026, 3, 1, 14, 0)), datetime(2026, 3, 2, 1, 0))
        # Summer time: 02:00 Berlin is 00:00 UTC.
        self.assertEqual(self.connection._next_batch_time(datetime(2026, 7, 1, 14, 0)), datetime(2026, 7, 2, 0, 0))

    def test_realtime_mode_applies_on_arrival(self):
        self.assertEqual(self.connection.apply_mode, "realtime")
        result, record = self.ingest_one(self.event("hist-rt-1", 0))
        self.assertEqual(record.state, "applied", record.error_message)

    def test_rejected_rows_belong_to_the_historian_transport(self):
        # The dead-letter screen offers a rejected CSV row to the connection's file mappings (edit and retry).
        folder = self.make("folder")
        sql = self.make("sql")
        self.assertEqual(origin_transport(folder, "export.csv"), "file")
        self.assertEqual(origin_transport(sql, "query"), "sql")
        folder.http_enabled = True
        self.env["shopfloor.payload.map"].create(
            {"connection_id": folder.id, "name": "rows", "transport": "file", "match": "#", "expression": "$"}
        )
        self.assertEqual(origin_transport(folder, "export.csv"), "file")
        sql.http_enabled = True
        self.assertEqual(origin_transport(sql, "mes/completions"), "http")
