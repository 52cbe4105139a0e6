import json
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models import shopfloor_dashboard
from .common import ShopfloorCase


@tagged("post_install", "-at_install")
class TestDashboard(ShopfloorCase):
    def started(self, production=None, **envelope):
        production = production or self.mo1
        return self.make_event("workorder.started", {"order": production.name, "operation": "Cutting"}, **envelope)

    def setUp(self):
        super().setUp()
        self.bus_watermark = self.env["bus.bus"].sudo().search([], order="id desc", limit=1).id or 0

    def tile(self):
        data = self.env["shopfloor.dashboard"].get_dashboard()
        [tile] = [t for t in data["tiles"] if t["code"] == "test-conn"]
        return data, tile

    def pings(self):
        """Bus notifications of this transaction: written (at flush) or still queued."""
        written = (
            self.env["bus.bus"]
            .sudo()
            .search_read([("id", ">", self.bus_watermark)], ["channel", "message"], order="id")
        )
        queued = self.env.cr.precommit.data.get("bus.bus.values", [])
        return [n for n in written + queued if json.loads(n["message"])["type"] == shopfloor_dashboard.EVENTS_CHANGED]

    def test_tile_counts_rates_lag_and_sparkline(self):
        _data, before = self.tile()
        self.assertEqual((before["dlq"], before["pending"], before["rejected"]), (0, 0, 0))
        self.assertEqual(before["heartbeat_age_s"], -1)
        self.assertFalse(before["p95_lag_ms"])
        results = self.ingest(
            self.started(observedtime=self.iso(self.at(minutes=40, seconds=2))),
            self.make_event("workorder.started", {"order": "NO-SUCH-MO", "operation": "Cutting"}),
            {"specversion": "1.0", "id": "bad-1", "source": "plant1/line1/press-01", "connection": "test-conn"},
        )
        self.assertEqual(results[0]["status"], "applied", results[0]["error"])
        self.assertEqual(results[2]["status"], "rejected")
        self.env["shopfloor.connection"].heartbeat("test-conn", {"spool_depth": 7, "spool_parked": 2})
        data, tile = self.tile()
        self.assertEqual(tile["rejected"], 1)
        # The unknown order is failed/dead or pending depending on the handler's verdict; it is counted once.
        self.assertEqual(tile["dlq"] + tile["pending"], 2)
        self.assertEqual(tile["applied_per_min"], 1 / shopfloor_dashboard.RATE_WINDOW_MINUTES)
        self.assertEqual(tile["in_per_min"], 3 / shopfloor_dashboard.RATE_WINDOW_MINUTES)
        self.assertEqual(len(tile["sparkline"]), 60)
        self.assertEqual(sum(tile["sparkline"]), 3)
        self.assertEqual(tile["sparkline"][-1], 3, "received this minute: the newest bucket is last")
        applied = self.env["shopfloor.event"].browse(results[0]["event_id"])
        lag_ms = (applied.applied_time - applied.time).total_seconds() * 1000
        self.assertAlmostEqual(tile["p95_lag_ms"], lag_ms, delta=1)
        self.assertEqual(tile["worst_skew_ms"], applied.skew_ms)
        self.assertGreaterEqual(tile["heartbeat_age_s"], 0)
        self.assertEqual(tile["spool_depth"], 7)
        self.assertEqual(tile["spool_parked"], 2)
        self.assertIsInstance(data["cost_variances"], list)
        json.dumps(data)  # the client gets it as JSON: no datetimes, no None
        self.assertNotIn(None, tile.values())

    def test_tile_shows_a_source_that_does_not_read_its_floor(self):
        _data, tile = self.tile()
        self.assertEqual((tile["source_down"], tile["source_error"]), (False, ""), "never seen")
        reason = "cannot connect: Modbus 10.0.0.7:502 unit 1: connect ECONNREFUSED 10.0.0.7:502"
        self.env["shopfloor.connection"].heartbeat("test-conn", {"source_connected": 0, "source_error": reason})
        _data, tile = self.tile()
        self.assertEqual((tile["source_down"], tile["source_error"]), (True, reason))
        # Reading again; or a sidecar whose source does not say (OPC UA, MQTT); or nonsense: not down.
        for stats in (
            {"source_connected": 1, "source_error": "stale"},
            {"spool_depth": 3},
            {"source_connected": False},
            {"source_connected": "0", "source_error": 5},
        ):
            self.env["shopfloor.connection"].heartbeat("test-conn", stats)
            _data, tile = self.tile()
            self.assertEqual((tile["source_down"], tile["source_error"]), (False, ""), stats)
        self.env["shopfloor.connection"].heartbeat("test-conn", {"source_connected": 0, "source_error": "x" * 5000})
        _data, tile = self.tile()
        self.assertEqual(len(tile["source_error"]), 500)
        self.assertNotIn(None, tile.values())

    def test_tile_shows_what_of_its_configuration_a_source_does_not_read(self):
        _data, tile = self.tile()
        self.assertEqual(tile["source_warning"], "", "never seen")
        warning = (
            '1 topic filter is not subscribed: the broker refused topic filter "secret/#" (SUBACK 0x87: not authorized)'
        )
        self.env["shopfloor.connection"].heartbeat("test-conn", {"source_warning": warning, "source_received": 5})
        _data, tile = self.tile()
        self.assertEqual((tile["source_down"], tile["source_warning"]), (False, warning), "it reads the rest")
        for stats, expected in (({}, ""), ({"source_warning": 7}, ""), ({"source_warning": "y" * 900}, "y" * 500)):
            self.env["shopfloor.connection"].heartbeat("test-conn", stats)
            _data, tile = self.tile()
            self.assertEqual(tile["source_warning"], expected, stats)

    def test_tile_shows_catch_up_from_the_heartbeat(self):
        _data, tile = self.tile()
        self.assertEqual(
            (tile["catchup"], tile["catchup_backlog"], tile["drain_eta_s"]), (False, 0, False), "never seen"
        )
        self.env["shopfloor.connection"].heartbeat(
            "test-conn",
            {"spool_depth": 360000, "catchup": True, "backlog": 360000, "drain_rate": 812.5, "drain_eta_s": 443},
        )
        _data, tile = self.tile()
        self.assertEqual(
            (tile["catchup"], tile["catchup_backlog"], tile["drain_rate"], tile["drain_eta_s"]),
            (True, 360000, 812.5, 443),
        )
        # Nothing drains yet (-1), or a sidecar sends nonsense: no estimate, never an error.
        for stats in (
            {"catchup": True, "backlog": 5000, "drain_rate": 0, "drain_eta_s": -1},
            {"catchup": "yes", "backlog": "many", "drain_rate": None, "drain_eta_s": float("nan")},
        ):
            self.env["shopfloor.connection"].heartbeat("test-conn", stats)
            _data, tile = self.tile()
            self.assertIs(tile["drain_eta_s"], False)
            json.dumps(tile)
        self.assertFalse(tile["catchup"], "only a JSON true switches the line on")
        self.assertEqual(tile["catchup_backlog"], 0)
        # A heartbeat of an older sidecar (no catch-up keys): off, its spool depth as the backlog.
        self.env["shopfloor.connection"].heartbeat("test-conn", {"spool_depth": 12})
        _data, tile = self.tile()
        self.assertEqual((tile["catchup"], tile["catchup_backlog"], tile["drain_eta_s"]), (False, 12, False))
        self.assertNotIn(None, tile.values())

    def test_dlq_summary_groups_in_sql(self):
        self.ingest(
            *[
                {"specversion": "1.0", "id": f"bad-{n}", "source": "plant1/line1/press-01", "connection": "test-conn"}
                for n in range(3)
            ]
        )
        summary = self.env["shopfloor.dashboard"].dlq_summary([("connection_id", "=", self.connection.id)])
        self.assertEqual(summary["counts"], {"failed": 0, "dead": 0, "rejected": 3})
        self.assertEqual(sum(row["count"] for row in summary["error_classes"]), 3)
        self.assertEqual(summary["types"], [])

    def test_ping_on_ingest_at_most_once_a_second(self):
        with (
            patch.object(shopfloor_dashboard, "_last_ping", {}),
            patch.object(shopfloor_dashboard.time, "monotonic") as clock,
        ):
            clock.return_value = 1000.0
            self.ingest(self.started())
            self.assertEqual(len(self.pings()), 1)
            clock.return_value = 1000.5
            self.ingest(self.started(production=self.mo2))
            self.assertEqual(len(self.pings()), 1, "a second ping within one second is coalesced")
            clock.return_value = 1001.2
            self.ingest(self.make_event("downtime.started", {"reason_code": "BRK"}))
            self.assertEqual(len(self.pings()), 2)
        ping = self.pings()[-1]
        group = self.env.ref("shopfloor_bridge.shopfloor_bridge_group_user")
        self.assertEqual(json.loads(ping["channel"])[1:], ["res.groups", group.id])

    def test_plain_user_is_refused_dlq_actions(self):
        [result] = self.ingest({"specversion": "1.0", "id": "bad-x", "source": "s", "connection": "test-conn"})
        event = self.env["shopfloor.event"].browse(result["event_id"])
        reader = self.env["res.users"].create(
            {
                "name": "Floor reader",
                "login": "floor-reader-unit-test",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("base.group_user").id,
                            self.env.ref("shopfloor_bridge.shopfloor_bridge_group_user").id,
                        ],
                    )
                ],
            }
        )
        as_reader = event.with_user(reader)
        self.assertEqual(as_reader.state, "rejected")  # may read it …
        with self.assertRaises(AccessError):
            as_reader.action_retry()
        with self.assertRaises(AccessError):
            as_reader.action_discard("no")
        with self.assertRaises(AccessError):
            as_reader.action_edit_and_retry("{}")
        with self.assertRaises(AccessError):
            self.env["shopfloor.event"].with_user(reader).dlq_bulk([], "discard", "no")
        self.assertEqual(event.state, "rejected")
        # … and still sees the counts.
        summary = (
            self.env["shopfloor.dashboard"].with_user(reader).dlq_summary([("connection_id", "=", self.connection.id)])
        )
        self.assertEqual(summary["counts"]["rejected"], 1)

    def test_move_workorder_writes_priority_and_planned_start(self):
        workorder = self.workorder_of(self.mo2, "Cutting")
        moved = self.env["shopfloor.dashboard"].move_workorder(workorder.id, "1", "2026-11-23 06:00:00")
        self.assertEqual(self.mo2.priority, "1")
        self.assertEqual(workorder.date_start.isoformat(), "2026-11-23T06:00:00")
        self.assertEqual(moved["priority"], "1")
        board = self.env["shopfloor.dashboard"].board_data()
        card = next(wo for wo in board["workorders"] if wo["id"] == workorder.id)
        self.assertEqual((card["priority"], card["date_start"]), ("1", "2026-11-23 06:00:00"))
        with self.assertRaises(UserError):
            self.env["shopfloor.dashboard"].move_workorder(workorder.id, "7", False)

    def test_board_sorts_its_queue_as_the_floor_queue(self):
        """The board's sort key (owl_src queue_order.ts compareCards) over board_data gives
        the floor queue's order: a work order without a planned start sorts by its MO's."""
        first = self.workorder_of(self.mo1, "Cutting")
        second = self.workorder_of(self.mo2, "Cutting")
        first.write({"date_start": "2026-11-23 09:00:00", "date_finished": "2026-11-23 10:00:00"})
        second.production_id.date_start = "2026-11-23 07:00:00"
        second.write({"date_start": False})
        third = self._make_mo(10)
        third.action_confirm()
        third_wo = self.workorder_of(third, "Cutting")
        third_wo.write({"date_start": "2026-11-23 09:00:00", "date_finished": "2026-11-23 10:00:00"})
        board = self.env["shopfloor.dashboard"].board_data()
        cards = [wo for wo in board["workorders"] if wo["workcenter_id"][0] == self.wc_press1.id]

        def board_key(card):
            return (
                card["state"] != "progress",
                -int(card["priority"]),
                card["queue_start"] or "9999",
                card["sequence"],
                card["production_id"][0] if card["production_id"] else 0,
                card["id"],
            )

        floor = self.env["shopfloor.dispatch"]._queue_workorders(self.wc_press1).ids
        shown = [card["id"] for card in sorted(cards, key=board_key) if card["id"] in floor]
        self.assertEqual(shown, [wo for wo in floor if wo in shown])
        self.assertEqual(shown.index(second.id), 0, "no planned start: the MO's 07:00 puts it first")
        self.assertLess(shown.index(first.id), shown.index(third_wo.id), "same start: the older MO first")

    def test_move_workorder_shifts_the_orders_that_make_room(self):
        # Two orders planned in the same second: the board moves the second's start to make room.
        moved = self.workorder_of(self.mo2, "Cutting")
        other = self.workorder_of(self.mo1, "Cutting")
        self.assertEqual(moved.workcenter_id, other.workcenter_id)
        other.write({"date_start": "2026-11-23 06:00:00", "date_finished": "2026-11-23 07:00:00"})
        self.env["shopfloor.dashboard"].move_workorder(
            moved.id, "0", "2026-11-23 06:00:00", [[other.id, "2026-11-23 06:00:01"]]
        )
        self.assertEqual(moved.date_start.isoformat(), "2026-11-23T06:00:00")
        self.assertEqual(other.date_start.isoformat(), "2026-11-23T06:00:01")
        self.assertGreater(other.date_finished, other.date_start)
        # Only the moved order's queue makes room, and a refused shift writes nothing.
        elsewhere = self.mo1.workorder_ids.filtered(lambda wo: wo.workcenter_id != moved.workcenter_id)[:1]
        self.assertTrue(elsewhere)
        with self.assertRaisesRegex(UserError, "not in the queue of"):
            self.env["shopfloor.dashboard"].move_workorder(
                moved.id, "1", "2026-11-24 06:00:00", [[elsewhere.id, "2026-11-24 06:00:01"]]
            )
        self.assertEqual((self.mo2.priority, moved.date_start.isoformat()), ("0", "2026-11-23T06:00:00"))
        with self.assertRaisesRegex(UserError, "A shift is"):
            self.env["shopfloor.dashboard"].move_workorder(moved.id, "0", False, [[other.id]])


@tagged("post_install", "-at_install")
class TestMappingTest(ShopfloorCase):
    def run_test(self, payload):
        wizard = self.env["shopfloor.mapping.test"].create(
            {
                "connection_id": self.connection.id,
                "payload": payload if isinstance(payload, str) else json.dumps(payload),
            }
        )
        wizard.action_run()
        return wizard

    def test_valid_sample_shows_what_it_would_do_and_applies_nothing(self):
        events_before = self.env["shopfloor.event"].search_count([])
        logs_before = self.env["mrp.workcenter.productivity"].search_count([])
        wizard = self.run_test(
            {
                "source": "plant1/line1/press-01",
                "type": "workorder.started",
                "time": "2026-11-23T08:05:00Z",
                "data": {"order": self.mo1.name, "operation": "Cutting"},
            }
        )
        self.assertEqual(wizard.state, "valid", wizard.outcome)
        self.assertEqual(wizard.workcenter_id, self.wc_press1)
        self.assertIn("mrp.workcenter.productivity", wizard.produced)
        self.assertIn("connection was missing", wizard.outcome)
        self.assertEqual(self.env["shopfloor.event"].search_count([]), events_before)
        self.assertEqual(self.env["mrp.workcenter.productivity"].search_count([]), logs_before)
        self.assertEqual(self.workorder_of(self.mo1, "Cutting").state, "ready")

    def test_unknown_order_would_fail_and_invalid_would_be_rejected(self):
        failing = self.run_test(
            {
                "source": "plant1/line1/press-01",
                "type": "workorder.started",
                "time": "2026-11-23T08:05:00Z",
                "data": {"order": "NO-SUCH-MO"},
            }
        )
        self.assertEqual(failing.state, "fail", failing.outcome)
        self.assertIn("NO-SUCH-MO", failing.outcome)
        invalid = self.run_test({"source": "x", "type": "workorder.exploded", "time": "2026-11-23T08:05:00Z"})
        self.assertEqual(invalid.state, "invalid")
        self.assertIn("unknown event type", invalid.outcome)
        self.assertEqual(self.run_test("{not json").state, "invalid")


@tagged("post_install", "-at_install")
class TestMappingCsvImport(ShopfloorCase):
    """The mapping lists use Odoo's standard CSV import: check it works end to
    end (names resolved, revision bumped, a bad row reported, nothing half done)."""

    def import_csv(self, text, fields):
        wizard = self.env["base_import.import"].create(
            {
                "res_model": "shopfloor.source.map",
                "file": text.encode(),
                "file_type": "text/csv",
                "file_name": "map.csv",
            }
        )
        options = {"has_headers": True, "separator": ",", "quoting": '"', "encoding": "utf-8"}
        return wizard.execute_import(fields, fields, options)

    def test_source_map_csv_import(self):
        revision = self.connection.revision
        result = self.import_csv(
            "connection_id,source,workcenter_id\n"
            f"{self.connection.display_name},plant1/line9/press-91,{self.wc_press2.name}\n",
            ["connection_id", "source", "workcenter_id"],
        )
        self.assertFalse([m for m in result["messages"] if m["type"] == "error"], result["messages"])
        row = self.env["shopfloor.source.map"].search([("source", "=", "plant1/line9/press-91")])
        self.assertEqual((row.connection_id, row.workcenter_id), (self.connection, self.wc_press2))
        self.assertGreater(self.connection.revision, revision)

        with mute_logger("odoo.sql_db"):  # the refused row's INSERT is logged by the database layer
            bad = self.import_csv(
                "connection_id,source,workcenter_id\n"
                f"{self.connection.display_name},plant1/line9/press-92,{self.wc_press2.name}\n"
                f"{self.connection.display_name},plant1/line9/press-93,No Such Work Center\n",
                ["connection_id", "source", "workcenter_id"],
            )
        self.assertTrue([m for m in bad["messages"] if m["type"] == "error"])
        self.assertFalse(self.env["shopfloor.source.map"].search([("source", "like", "plant1/line9/press-9_")]) - row)
