import json
from datetime import timedelta

from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..models import shopfloor_live_view
from .common import PLANT_EPOCH, ShopfloorCase

# PLANT_EPOCH is a Monday 08:00 UTC; the test calendar's shift is Monday 06:00-14:00 UTC.
SHIFT_START = PLANT_EPOCH - timedelta(hours=2)
NOW = PLANT_EPOCH + timedelta(hours=2)


@tagged("post_install", "-at_install")
class TestLiveView(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.calendar = cls.env["resource.calendar"].create(
            {
                "name": "Early shift (UTC)",
                "tz": "UTC",
                "attendance_ids": [
                    (5, 0, 0),
                    (0, 0, {"name": "Monday early", "dayofweek": "0", "hour_from": 6, "hour_to": 14}),
                ],
            }
        )
        cls.workcenters = cls.wc_press1 | cls.wc_assembly1 | cls.wc_press2 | cls.wc_assembly2
        cls.workcenters.write({"resource_calendar_id": cls.calendar.id})

    def tiles(self, workcenters=None, now=NOW):
        ids = (workcenters or self.workcenters).ids
        tiles = self.env["shopfloor.live.view"]._tiles(ids, now)
        json.dumps(tiles)  # the client gets JSON: no datetimes, no None
        for tile in tiles:
            self.assertNotIn(None, tile.values(), tile)
        return {tile["workcenter_id"]: tile for tile in tiles}

    def test_states_counts_plan_and_oee_of_this_shift(self):
        self.wc_assembly2.shopfloor_line = "Cell A"
        results = self.ingest(
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(1)),
            self.make_event(
                "production.reported",
                {"order": self.mo1.name, "operation": "Cutting", "qty_good": 30, "qty_scrap": 2},
                time=self.at(60),
            ),
            self.make_event(
                "downtime.started",
                {"reason_code": "BRK", "downtime_id": "D-1"},
                source="plant1/line2/press-02",
                time=self.at(5),
            ),
        )
        for result in results:
            self.assertEqual(result["status"], "applied", result["error"])
        hold = self.env["shopfloor.hold"].create({"workcenter_id": self.wc_assembly1.id, "reason": "Burrs on edge"})

        tiles = self.tiles()
        press1, assembly1 = tiles[self.wc_press1.id], tiles[self.wc_assembly1.id]
        press2, assembly2 = tiles[self.wc_press2.id], tiles[self.wc_assembly2.id]

        self.assertEqual(press1["state"], "running")
        self.assertEqual(press1["since"], "2026-11-23 08:01:00")
        self.assertEqual((press1["production"], press1["operation"]), (self.mo1.name, "Cutting"))
        self.assertEqual((press1["good"], press1["scrap"]), (30.0, 2.0))
        self.assertEqual(press1["shift_start"], "2026-11-23 06:00:00")
        self.assertEqual(press1["shift_end"], "2026-11-23 14:00:00")
        self.assertEqual(press1["shift_source"], "calendar")
        # Plan: 240 elapsed shift minutes at the routing's 1.5 min/unit.
        self.assertAlmostEqual(press1["plan"], 160.0)
        # ISO 22400 over the shift so far: run 119 of 240 min, 32 units x 1.5 min, 30 of 32 good.
        self.assertAlmostEqual(press1["availability"], 100 * 119 / 240, places=3)
        self.assertAlmostEqual(press1["performance"], 100 * 48 / 119, places=3)
        self.assertAlmostEqual(press1["quality"], 100 * 30 / 32, places=3)
        self.assertAlmostEqual(press1["oee"], (119 / 240) * (48 / 119) * (30 / 32) * 100, places=3)
        self.assertEqual(press1["oee_flags"], [])
        self.assertEqual(press1["last_event_type"], "production.reported")
        self.assertAlmostEqual(press1["last_event_age_s"], 3600.0)
        self.assertEqual(press1["line"], "Line 1", "its first tag")

        self.assertEqual(press2["state"], "down")
        self.assertEqual(press2["reason"], self.loss_breakdown.name)
        self.assertEqual(press2["since"], "2026-11-23 08:05:00")
        self.assertEqual(press2["availability"], 0.0, "a breakdown is no run time")

        self.assertEqual(assembly1["state"], "held")
        self.assertEqual((assembly1["reason"], assembly1["hold_id"]), ("Burrs on edge", hold.id))

        self.assertEqual(assembly2["state"], "idle")
        self.assertEqual(assembly2["line"], "Cell A", "the work center's own line wins over its tag")
        self.wc_assembly2.write({"shopfloor_line": False, "tag_ids": [(5, 0, 0)]})
        self.assertEqual(self.tiles()[self.wc_assembly2.id]["line"], self.connection.name, "else its connection")
        self.env["shopfloor.source.map"].search([("workcenter_id", "=", self.wc_assembly2.id)]).unlink()
        self.assertFalse(self.tiles()[self.wc_assembly2.id]["line"], "else none")
        self.assertFalse(assembly2["production"])
        self.assertFalse(assembly2["plan"])
        self.assertFalse(assembly2["last_event_age_s"])
        self.assertFalse(assembly2["oee"], "no count: no OEE, shown as —")

        hold.action_release()
        self.assertEqual(self.tiles()[self.wc_assembly1.id]["state"], "idle")

    def test_a_hold_on_the_current_order_holds_its_work_center(self):
        [result] = self.ingest(
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(1))
        )
        self.assertEqual(result["status"], "applied", result["error"])
        self.env["shopfloor.hold"].create({"production_id": self.mo1.id, "reason": "Wrong steel lot"})
        tile = self.tiles()[self.wc_press1.id]
        self.assertEqual((tile["state"], tile["reason"]), ("held", "Wrong steel lot"))
        self.assertEqual(self.tiles()[self.wc_press2.id]["state"], "idle", "not the other work centers")

    def test_setup_then_running(self):
        self.ingest(self.make_event("setup.started", {"order": self.mo1.name}, time=self.at(1)))
        self.assertEqual(self.tiles()[self.wc_press1.id]["state"], "setup")
        self.ingest(
            self.make_event("setup.ended", {"order": self.mo1.name}, time=self.at(10)),
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(11)),
        )
        tile = self.tiles()[self.wc_press1.id]
        self.assertEqual((tile["state"], tile["since"]), ("running", "2026-11-23 08:11:00"))

    def test_a_ratio_above_100_percent_comes_with_its_reason(self):
        self.ingest(
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(1)),
            # 90 units at 1.5 min each need 135 min; the press ran 119.
            self.make_event(
                "production.reported",
                {"order": self.mo1.name, "operation": "Cutting", "qty_good": 90},
                time=self.at(30),
            ),
        )
        tile = self.tiles()[self.wc_press1.id]
        self.assertGreater(tile["performance"], 100.0)
        self.assertEqual(len(tile["oee_flags"]), 1)
        self.assertIn("faster than the ideal cycle time", tile["oee_flags"][0])

    def test_a_count_begun_before_the_shift_counts_its_share(self):
        """As the report shares a count across midnight: the order started 20 min before the
        shift and its first count came 20 min into it, so half of it was made in this shift.
        Counted whole, 20 units at 1.5 min need 30 min against the shift's 20 min run."""
        order = {"order": self.mo1.name, "operation": "Cutting"}
        results = self.ingest(
            self.make_event("workorder.started", order, time=SHIFT_START - timedelta(minutes=20)),
            self.make_event("production.reported", {**order, "qty_good": 20}, time=SHIFT_START + timedelta(minutes=20)),
            self.make_event("workorder.paused", order, time=SHIFT_START + timedelta(minutes=20)),
        )
        for result in results:
            self.assertEqual(result["status"], "applied", result["error"])
        tile = self.tiles()[self.wc_press1.id]
        self.assertAlmostEqual(tile["good"], 10.0)
        self.assertEqual(tile["oee_flags"], [])

    def test_outside_the_calendar_the_shift_starts_at_midnight_in_the_users_zone(self):
        self.env.user.tz = "Europe/Berlin"
        sunday = PLANT_EPOCH - timedelta(days=1)
        tile = self.tiles(self.wc_press1, now=sunday)[self.wc_press1.id]
        self.assertEqual(tile["shift_source"], "midnight")
        self.assertEqual(tile["shift_start"], "2026-11-21 23:00:00", "midnight in Berlin is 23:00 UTC")

    def test_query_count_does_not_grow_with_the_plant(self):
        View = self.env["shopfloor.live.view"]
        View.get_live_view()  # warm the caches

        def queries():
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            View.get_live_view()
            return self.env.cr.sql_log_count - before

        small = queries()
        self.env["mrp.workcenter"].create(
            [
                {"name": f"Extra {n:03d}", "code": f"X{n:03d}", "resource_calendar_id": self.calendar.id}
                for n in range(40)
            ]
        )
        big = queries()
        self.assertEqual(big, small, "one read per kind of figure, never per work center")
        self.assertLessEqual(small, 30)

    def test_users_and_managers_see_it_others_do_not(self):
        mrp_user = self.env.ref("mrp.group_mrp_user")
        base_user = self.env.ref("base.group_user")
        floor_user = self.env["res.users"].create(
            {
                "name": "Floor user",
                "login": "live-view-user",
                "groups_id": [(6, 0, [base_user.id, mrp_user.id, self.env.ref(shopfloor_live_view.USER_GROUP).id])],
            }
        )
        outsider = self.env["res.users"].create(
            {"name": "Planner", "login": "live-view-outsider", "groups_id": [(6, 0, [base_user.id, mrp_user.id])]}
        )
        data = self.env["shopfloor.live.view"].with_user(floor_user).get_live_view()
        self.assertTrue({t["workcenter_id"] for t in data["tiles"]} >= set(self.workcenters.ids))
        self.assertIn("health", data)
        manager = self.env.ref("base.user_admin")
        self.assertTrue(self.env["shopfloor.live.view"].with_user(manager).get_live_view()["tiles"])
        with self.assertRaises(AccessError):
            self.env["shopfloor.live.view"].with_user(outsider).get_live_view()

    def test_partial_read_and_the_coalesced_bus_message(self):
        data = self.env["shopfloor.live.view"].get_live_view([self.wc_press2.id])
        self.assertEqual([t["workcenter_id"] for t in data["tiles"]], [self.wc_press2.id])
        self.assertNotIn("health", data)
        self.assertTrue(data["partial"])

        watermark = self.env["bus.bus"].sudo().search([], order="id desc", limit=1).id or 0
        shopfloor_live_view._last_sent.clear()
        shopfloor_live_view._pending.clear()
        events = [
            self.make_event("downtime.started", {"reason_code": "BRK", "downtime_id": f"D-{n}"}, time=self.at(n))
            for n in range(1, 4)
        ]
        for event in events:  # three batches within a second: one message
            self.ingest(event)
        self.ingest(
            self.make_event(
                "downtime.started",
                {"reason_code": "BRK", "downtime_id": "D-9"},
                source="plant1/line2/press-02",
                time=self.at(9),
            )
        )
        written = self.env["bus.bus"].sudo().search_read([("id", ">", watermark)], ["message"], order="id")
        queued = self.env.cr.precommit.data.get("bus.bus.values", [])
        messages = [
            json.loads(n["message"])
            for n in written + queued
            if json.loads(n["message"])["type"] == shopfloor_live_view.WORKCENTERS_CHANGED
        ]
        self.assertEqual(len(messages), 1, messages)
        self.assertEqual(messages[0]["payload"], {"workcenter_ids": [self.wc_press1.id]})
        # The later ones wait for the next message, all together.
        self.assertEqual(shopfloor_live_view._pending[self.env.cr.dbname], {self.wc_press1.id, self.wc_press2.id})
