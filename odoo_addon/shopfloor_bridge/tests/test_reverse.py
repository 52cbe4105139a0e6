"""Reverse and re-apply of applied events (``services/reverse.py``), through ``ingest``.

The from-scratch comparison of ``test_batch_apply.py`` is the reference: the
same day of every event type is applied one event per call on a second order,
and its figures are kept after each event. The day applied to the first order
is then reversed newest first, one event at a time; after each reversal the
first order must show the figures the second showed when it had received the
same events (stock levels, work-order quantities, moves, time logs, cost,
holds, quality results, scraps not returned, open maintenance requests).
Reversed down to nothing, the whole day is re-applied and must equal the
complete reference run again.
"""

from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from ..handlers import HANDLERS
from ..services import reverse
from ..services.reverse import COMPENSATIONS_SENT_BACK, REVERSIBLE_TYPES, TYPES_NEEDING_UNDO, returned_moves
from .common import ShopfloorCase
from .test_batch_apply import EVENT_TYPES, SECOND_RUN, TestBatchedApply, TestBatchedApplyEveryType

REASON = "press-01 mapped to the wrong work center"


@tagged("post_install", "-at_install")
class TestReverse(ShopfloorCase):
    # The days and the snapshot of the batch/one-by-one comparison, reused as they are.
    press_day = TestBatchedApplyEveryType.press_day
    assembly_day = TestBatchedApplyEveryType.assembly_day
    snapshot = TestBatchedApply.snapshot
    stock_levels = TestBatchedApplyEveryType.stock_levels
    events_of = TestBatchedApply.events_of

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.shopfloor_hold_on_quality_fail = True
        cls.manager = new_test_user(
            cls.env,
            "reverse-manager",
            groups="base.group_user,mrp.group_mrp_user,shopfloor_bridge.shopfloor_bridge_group_manager",
        )
        cls.bridge_user = new_test_user(
            cls.env, "reverse-user", groups="base.group_user,shopfloor_bridge.shopfloor_bridge_group_user"
        )

    def day(self, production, tag, offset=timedelta(), compensations=False):
        """The batch tests' day of every event type; without the floor compensations that are
        not reversed here (``COMPENSATIONS_SENT_BACK``) unless ``compensations``."""
        events = self.press_day(production, tag, offset) + self.assembly_day(production, tag, offset, start=60)
        if not compensations:
            events = [event for event in events if event["type"] not in COMPENSATIONS_SENT_BACK]
        return sorted(events, key=lambda event: event["time"])

    # ------------------------------------------------------------------ what is compared

    def figures(self, production, results, offset, tag, baseline):
        """What the events left on ``production``, free of ids, offsets and the run's tag.

        Stock history stays (a reversed scrap is done, and returned by a move), so
        scraps count by what is not returned and stock by its levels."""
        figures = self.snapshot(production, results, offset)
        figures.pop("scraps")
        figures.pop("valuation", None)
        figures["moves"] = [move for move in figures["moves"] if not move[6]]  # not the scraps' moves
        figures["move_lines"] = [line for line in figures["move_lines"] if line[-1] != "done"]
        scraps = self.env["stock.scrap"].search([("production_id", "=", production.id)])
        scraps = scraps.filtered(lambda scrap: not returned_moves(scrap))
        figures["scraps_kept"] = sorted(
            (scrap.product_id.default_code, scrap.scrap_qty, scrap.workorder_id.name or "") for scrap in scraps
        )
        holds = self.env["shopfloor.hold"].search([("production_id", "=", production.id), ("state", "=", "active")])
        figures["holds"] = sorted(
            ((hold.hold_ref or "").replace(tag, "<tag>"), hold.reason, hold.workorder_id.name or "") for hold in holds
        )
        checks = self.env["shopfloor.quality.result"].search([("production_id", "=", production.id)])
        figures["quality"] = sorted(
            (check.characteristic, check.passed, check.value, check.time - offset, bool(check.hold_id))
            for check in checks
        )
        refs = "\n".join(filter(None, self.events_of(results).mapped("result_refs"))).splitlines()
        requests = self.env["maintenance.request"].browse(
            [int(ref.split(",")[1]) for ref in refs if ref.startswith("maintenance.request,")]
        )
        figures["maintenance_open"] = len(requests.filtered(lambda request: not request.archive))
        after = self.stock_levels()
        delta = {key: round(after.get(key, 0.0) - baseline.get(key, 0.0), 6) for key in {*baseline, *after}}
        figures["stock"] = {key: value for key, value in delta.items() if value}
        return figures

    def assert_same(self, first, second, when):
        self.assertEqual(first.keys(), second.keys())
        for key in first:
            self.assertEqual(first[key], second[key], f"{key} {when}")

    def reverse(self, events, reason=REASON, reapply=False):
        return events.with_user(self.manager).action_reverse(reason, reapply=reapply)

    # ------------------------------------------------------------------ every event type

    def test_reversing_a_day_newest_first_passes_back_through_the_clean_run_and_reapplies_to_it(self):
        reference_day = self.day(self.mo2, "ref", SECOND_RUN)
        self.assertEqual({event["type"] for event in reference_day}, set(EVENT_TYPES) - set(COMPENSATIONS_SENT_BACK))
        # The clean run, one event per call: its figures after each event.
        baseline = self.stock_levels()
        results = []
        # The clean order as the cost engine shows it before any event (expected figures, no actuals).
        self.env["shopfloor.cost.variance"]._refresh_for_productions(self.mo2)
        checkpoints = [(None, self.figures(self.mo2, [], SECOND_RUN, "ref", baseline), True)]
        for event in reference_day:
            results += self.ingest(event)
            self.retry_due()
            clean = not self.events_of(results).filtered(lambda e: e.state in ("pending", "failed"))
            checkpoints.append((event["time"], self.figures(self.mo2, results, SECOND_RUN, "ref", baseline), clean))
        complete = checkpoints[-1][1]

        # The same day on the first order, in one batch.
        baseline = self.stock_levels()
        day = self.day(self.mo1, "rev")
        applied_results = self.ingest(*day)
        self.retry_due()
        events = self.events_of(applied_results)
        applied = events.filtered(lambda e: e.state == "applied")
        self.assertEqual(
            {e.type for e in applied},
            set(EVENT_TYPES) - set(COMPENSATIONS_SENT_BACK),
            "every type applied, so every type reversed",
        )
        needing = applied.filtered(lambda e: e.type in TYPES_NEEDING_UNDO)
        self.assertTrue(needing and all(needing.mapped("undo_json")), "the handlers kept what they changed")
        self.assert_same(self.figures(self.mo1, applied_results, timedelta(), "rev", baseline), complete, "applied")

        # Newest first, one event at a time; at every point where the clean run had
        # nothing waiting, the first order must look as the clean run did then.
        compared = 0
        for index in range(len(checkpoints) - 1, -1, -1):
            cut_time, expected, clean = checkpoints[index]
            reference_cut = cut_time and datetime.strptime(cut_time[:19], "%Y-%m-%dT%H:%M:%S") - SECOND_RUN
            later = events.filtered(
                lambda e, cut=reference_cut: e.state == "applied" and (cut is None or e.time > cut)
            ).sorted(lambda e: (e.time, e.id), reverse=True)
            for event in later:
                self.reverse(event)
                self.assertEqual(event.state, "reversed", event.type)
            if clean:
                self.assert_same(
                    self.figures(self.mo1, applied_results, timedelta(), "rev", baseline), expected, f"at {cut_time}"
                )
                compared += 1
        self.assertGreater(compared, 30, "most steps of the day compared")
        reversed_events = events.filtered(lambda e: e.state == "reversed")
        self.assertEqual(reversed_events, applied)
        for event in reversed_events:
            reversal = event.history_ids.filtered(lambda log: log.action == "reverse")
            self.assertEqual(len(reversal), 1)
            self.assertEqual(reversal.user_id, self.manager)
            self.assertIn(REASON, reversal.note)

        # Re-applied, the whole day ends as the clean run.
        reversed_events.with_user(self.manager).action_reapply("fixed the mapping")
        self.retry_due()
        self.assertEqual(set(reversed_events.mapped("state")), {"applied"})
        self.assert_same(self.figures(self.mo1, applied_results, timedelta(), "rev", baseline), complete, "re-applied")
        self.assertTrue(
            any("reversed by" in (message.body or "") for message in self.mo1.message_ids), "posted in the chatter"
        )

    # ------------------------------------------------------------------ order and refusals

    def test_floor_compensations_are_refused_naming_the_event_that_undoes_them(self):
        results = self.ingest(*self.day(self.mo1, "comp", compensations=True))
        self.retry_due()
        events = self.events_of(results).filtered(lambda e: e.state == "applied" and e.type in COMPENSATIONS_SENT_BACK)
        self.assertEqual(set(events.mapped("type")), set(COMPENSATIONS_SENT_BACK))
        for event in events:
            with self.assertRaisesRegex(UserError, "Send the floor event that undoes it instead"):
                self.reverse(event)
            self.assertEqual(event.state, "applied")

    def started_and_reported(self):
        results = self.ingest(
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(0)),
            self.make_event(
                "production.reported", {"order": self.mo1.name, "operation": "Cutting", "qty_good": 5}, time=self.at(1)
            ),
        )
        self.assertEqual([result["status"] for result in results], ["applied", "applied"])
        return self.events_of(results)

    def test_an_event_a_later_applied_event_depends_on_is_refused_alone(self):
        started, reported = self.started_and_reported()
        with self.assertRaisesRegex(UserError, f"later applied event {reported.event_uid}.*Select it too"):
            self.reverse(started)
        self.assertEqual(started.state, "applied")
        self.assertEqual(self.mo1.qty_producing, 5)
        # Both together: newest first, whatever the order of the selection.
        self.reverse(started | reported)
        self.assertEqual((started | reported).mapped("state"), ["reversed", "reversed"])
        self.assertEqual(self.mo1.qty_producing, 0)
        self.assertFalse(self.time_logs(workorder=self.workorder_of(self.mo1, "Cutting")))
        self.assertEqual(self.workorder_of(self.mo1, "Cutting").state, "ready")

    def test_only_applied_events_are_reversed_and_only_reversed_ones_reapplied(self):
        started, reported = self.started_and_reported()
        self.reverse(reported)
        with self.assertRaisesRegex(UserError, "Only applied events can be reversed"):
            self.reverse(reported)
        with self.assertRaisesRegex(UserError, "Only reversed events can be re-applied"):
            started.with_user(self.manager).action_reapply("again")
        with self.assertRaisesRegex(UserError, "needs a reason"):
            self.reverse(started, reason="  ")

    def test_every_handled_type_has_a_reversal_and_an_unknown_one_is_refused(self):
        self.assertEqual(REVERSIBLE_TYPES | set(COMPENSATIONS_SENT_BACK), set(HANDLERS))
        self.assertFalse(REVERSIBLE_TYPES & set(COMPENSATIONS_SENT_BACK))
        started, reported = self.started_and_reported()
        with patch.object(reverse, "REVERSIBLE_TYPES", REVERSIBLE_TYPES - {"production.reported"}):
            with self.assertRaisesRegex(UserError, "no reversal is known for events of type production.reported"):
                self.reverse(reported)
        self.assertEqual(reported.state, "applied")
        self.assertEqual(self.mo1.qty_producing, 5)

    def test_an_event_applied_before_undo_records_were_kept_is_refused(self):
        started, reported = self.started_and_reported()
        reported.sudo().undo_json = False
        with self.assertRaisesRegex(UserError, "applied before reversal records were kept.*by hand"):
            self.reverse(reported)
        self.assertEqual(reported.state, "applied")

    def test_only_managers_reverse(self):
        started, reported = self.started_and_reported()
        with self.assertRaises(AccessError):
            reported.with_user(self.bridge_user).action_reverse(REASON)
        with self.assertRaises(AccessError):
            reported.with_user(self.bridge_user).action_open_reverse_wizard()
        self.assertEqual(reported.state, "applied")

    def test_the_wizard_reverses_and_reapplies(self):
        started, reported = self.started_and_reported()
        action = (started | reported).with_user(self.manager).action_open_reverse_wizard()
        wizard = self.env["shopfloor.event.reverse"].with_user(self.manager).browse(action["res_id"])
        wizard.write({"reason": REASON, "reapply": True})
        wizard.action_confirm()
        self.assertEqual((started | reported).mapped("state"), ["applied", "applied"])
        self.assertEqual(self.mo1.qty_producing, 5)
        self.assertEqual(
            reported.history_ids.mapped("action")[-3:], ["reverse", "reapply", "apply"], reported.history_ids
        )

    def test_reapply_follows_the_current_source_mapping(self):
        # A shift booked on the wrong press through a wrong source map.
        source_map = self.env["shopfloor.source.map"].search(
            [("connection_id", "=", self.connection.id), ("source", "=", "plant1/line1/press-01")]
        )
        source_map.workcenter_id = self.wc_press2
        results = self.ingest(
            self.make_event("downtime.started", {"reason_code": "MAT", "downtime_id": "d1"}, time=self.at(0)),
            self.make_event("downtime.ended", {"reason_code": "MAT", "downtime_id": "d1"}, time=self.at(9)),
        )
        events = self.events_of(results)
        self.assertEqual(events.workcenter_id, self.wc_press2)
        self.assertEqual(len(self.time_logs(workcenter=self.wc_press2)), 1)
        source_map.workcenter_id = self.wc_press1
        self.reverse(events, reapply=True)
        self.assertEqual(set(events.mapped("state")), {"applied"})
        self.assertEqual(events.workcenter_id, self.wc_press1)
        self.assertFalse(self.time_logs(workcenter=self.wc_press2))
        [log] = self.time_logs(workcenter=self.wc_press1)
        self.assertEqual((log.date_start, log.date_end), (self.at(0), self.at(9)))

    def close_mo1(self):
        results = self.ingest(
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(0)),
            self.make_event(
                "workorder.completed", {"order": self.mo1.name, "operation": "Cutting", "qty_good": 10}, time=self.at(5)
            ),
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Assembly"}, time=self.at(6)),
            self.make_event(
                "workorder.completed",
                {"order": self.mo1.name, "operation": "Assembly", "qty_good": 10},
                time=self.at(9),
            ),
        )
        self.assertEqual({result["status"] for result in results}, {"applied"}, results)
        self.assertEqual(self.mo1.state, "done")
        return self.events_of(results)

    def test_a_completion_that_closed_the_order_is_unbuilt(self):
        before = self.stock_levels()
        *_earlier, closing = self.close_mo1()
        self.assertNotEqual(self.stock_levels(), before)
        self.reverse(closing)
        self.assertEqual(closing.state, "reversed")
        unbuild = self.env["mrp.unbuild"].search([("mo_id", "=", self.mo1.id)])
        self.assertEqual((unbuild.state, unbuild.product_qty), ("done", 10))
        after = self.stock_levels()
        delta = {key: round(after.get(key, 0.0) - before.get(key, 0.0), 6) for key in {*before, *after}}
        self.assertEqual(
            {key: value for key, value in delta.items() if value},
            {},
            "finished goods taken apart, components back: stock as before the order",
        )
        self.assertIn("unbuilt", closing.history_ids.filtered(lambda log: log.action == "reverse").note)

    def test_a_done_order_whose_goods_left_stock_is_refused_with_what_to_do(self):
        *_earlier, closing = self.close_mo1()
        customer = self.env.ref("stock.stock_location_customers")
        delivery = self.env["stock.move"].create(
            {
                "name": "delivery",
                "product_id": self.product_bracket.id,
                "product_uom": self.product_bracket.uom_id.id,
                "product_uom_qty": 10,
                "location_id": self.mo1.location_dest_id.id,
                "location_dest_id": customer.id,
            }
        )
        delivery._action_confirm()
        delivery._action_assign()
        delivery.picked = True
        delivery._action_done()
        self.assertEqual(delivery.state, "done")
        with self.assertRaisesRegex(UserError, "has left stock.*Return the goods first"):
            self.reverse(closing)
        self.assertEqual(closing.state, "applied")
        self.assertFalse(self.env["mrp.unbuild"].search([("mo_id", "=", self.mo1.id)]))

    def test_a_scrap_whose_location_is_gone_is_refused_and_nothing_changes(self):
        results = self.ingest(
            self.make_event("scrap.reported", {"order": self.mo1.name, "material": "M8", "qty": 3}, time=self.at(0))
        )
        scrap_event = self.events_of(results)
        scrap = self.env["stock.scrap"].search([("production_id", "=", self.mo1.id)])
        self.assertEqual(scrap.state, "done")
        shelf = self.env["stock.location"].create({"name": "Old shelf", "location_id": self.stock_location.id})
        scrap.location_id = shelf  # as if taken from a shelf since archived
        shelf.active = False
        with self.assertRaisesRegex(UserError, "cannot come back.*inventory adjustment"):
            self.reverse(scrap_event)
        self.assertEqual(scrap_event.state, "applied")
        self.assertFalse(returned_moves(scrap))

    def test_a_scrap_comes_back_by_a_move_and_leaves_the_cost(self):
        before = self.stock_levels()
        results = self.ingest(
            self.make_event("scrap.reported", {"order": self.mo1.name, "material": "M8", "qty": 3}, time=self.at(0))
        )
        scrap = self.env["stock.scrap"].search([("production_id", "=", self.mo1.id)])
        self.assertNotEqual(self.stock_levels(), before)
        self.reverse(self.events_of(results))
        self.assertEqual(scrap.state, "done", "stock history is kept")
        [returned] = returned_moves(scrap)
        self.assertEqual(returned.location_dest_id, scrap.location_id)
        self.assertEqual(returned.location_id, scrap.scrap_location_id)
        after = self.stock_levels()
        self.assertEqual({k: v for k, v in after.items() if v != before.get(k, 0.0)}, {})
        variance = self.env["shopfloor.cost.variance"].search(
            [("production_id", "=", self.mo1.id), ("level", "=", "production")]
        )
        if variance:
            self.assertFalse(variance.qty_scrap)
