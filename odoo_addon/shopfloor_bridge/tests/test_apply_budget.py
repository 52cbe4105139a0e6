"""A call applies what fits its time budget; the rest stays pending, due now,
and the next call or the cron applies it, in time order per work center."""

import itertools
from contextlib import contextmanager
from datetime import datetime
from unittest.mock import patch

from odoo.tests import tagged

from ..services import apply as shopfloor_event
from . import test_batch_apply
from .common import ShopfloorCase

PRESS = "plant1/line1/press-01"
BatchedApply = test_batch_apply.TestBatchedApply  # its day of events and snapshot, not its tests


@tagged("post_install", "-at_install")
class TestApplyBudget(ShopfloorCase):
    day_of = BatchedApply.day_of
    snapshot = BatchedApply.snapshot
    events_of = BatchedApply.events_of

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mo3 = cls._make_mo(100)

    @contextmanager
    def clock_ticking_one_second_per_event(self):
        """The apply loop reads the clock once to set its deadline, then once before
        each event after the first: with a 2.5 s budget, three events fit."""
        ticks = itertools.count()
        with patch.object(shopfloor_event, "monotonic", side_effect=lambda: float(next(ticks))):
            yield

    def budget(self, ms):
        return self.env["shopfloor.event"].with_context(shopfloor_apply_budget_ms=ms)

    def applied_order(self):
        """Events in the order they were applied (their apply log entries)."""
        logs = self.env["shopfloor.event.log"].search([("action", "=", "apply")], order="id")
        return logs.event_id

    def press_day(self, count=6, start=0):
        """Downtimes and restarts on the press: out of order, an end would wait for its start."""
        events = []
        for index in range(start, start + count):
            kind = "downtime.started" if index % 2 == 0 else "downtime.ended"
            events.append(
                self.make_event(
                    kind, {"reason_code": "MAT", "downtime_id": f"stop-{index // 2}"}, source=PRESS, time=self.at(index)
                )
            )
        return events

    def test_a_batch_is_stored_whole_and_applied_up_to_the_budget(self):
        events = self.press_day(6)
        with self.clock_ticking_one_second_per_event():
            results = self.budget(2500).ingest(events)
        self.assertTrue(all(result["event_id"] for result in results))
        self.assertEqual([result["status"] for result in results], ["applied"] * 3 + ["pending"] * 3, results)
        for result in results[3:]:
            self.assertIn(
                "apply budget (2500 ms, system parameter shopfloor_bridge.ingest_apply_budget_ms)", result["error"]
            )
        left = self.events_of(results[3:])
        self.assertEqual(set(left.mapped("state")), {"pending"})
        self.assertEqual(set(left.mapped("error_class")), {"deferred"})
        self.assertEqual(set(left.mapped("attempts")), {0})
        self.assertTrue(all(event.next_retry_at <= datetime.now() for event in left))
        cron = self.env.ref("shopfloor_bridge.shopfloor_event_cron_retry")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]), "the cron is called")

    def test_no_budget_still_applies_one_event_per_call(self):
        results = self.budget(0).ingest(self.press_day(3))
        self.assertEqual([result["status"] for result in results], ["applied", "pending", "pending"])

    def test_the_next_call_applies_the_leftovers_before_its_own_events(self):
        first = self.budget(0).ingest(self.press_day(5))
        self.assertEqual([result["status"] for result in first], ["applied"] + ["pending"] * 4)
        [second] = self.ingest(*self.press_day(1, start=5))
        self.assertEqual(second["status"], "applied", second["error"])
        self.assertEqual(set(self.events_of(first).mapped("state")), {"applied"})
        self.assertEqual(self.applied_order().mapped("time"), [self.at(minute) for minute in range(6)])
        stops = self.time_logs(workcenter=self.wc_press1).filtered(lambda log: log.loss_id == self.loss_material)
        self.assertEqual(
            [(log.date_start, log.date_end) for log in stops],
            [(self.at(0), self.at(1)), (self.at(2), self.at(3)), (self.at(4), self.at(5))],
        )

    def test_the_cron_applies_the_leftovers_in_order(self):
        results = self.budget(0).ingest(self.press_day(6))
        self.assertEqual([result["status"] for result in results], ["applied"] + ["pending"] * 5)
        runs = 0
        while self.env["shopfloor.event"].search_count([("state", "=", "pending")]):
            self.assertEqual(self.budget(0)._cron_retry(), 1, "one event per run with no budget")
            runs += 1
            self.assertLess(runs, 10)
        self.assertEqual(runs, 5)
        self.assertEqual(self.applied_order().mapped("time"), [self.at(minute) for minute in range(6)])

    def test_a_call_never_lets_an_event_overtake_waiting_events_it_did_not_look_at(self):
        first = self.budget(0).ingest(self.press_day(5))
        self.assertEqual([result["status"] for result in first], ["applied"] + ["pending"] * 4)
        with patch.object(shopfloor_event, "WAITING_LIMIT", 2):
            [late] = self.ingest(*self.press_day(1, start=5))
        # It looked at the two oldest waiting events only: the new one, later than both, waits too.
        self.assertEqual(late["status"], "pending")
        self.assertIn("more than 2 events wait on this work center", late["error"])
        self.assertEqual(self.events_of(first).mapped("state"), ["applied"] * 3 + ["pending"] * 2)
        self.env["shopfloor.event"]._cron_retry()
        self.assertEqual(self.applied_order().mapped("time"), [self.at(minute) for minute in range(6)])

    def test_a_day_applied_under_a_budget_ends_as_one_by_one(self):
        with self.clock_ticking_one_second_per_event():
            batch = self.budget(2500).ingest(self.day_of(self.mo1, tag="budget"))
        statuses = [result["status"] for result in batch]
        self.assertIn("pending", statuses)
        self.assertIn("applied", statuses)
        # The rest arrives through the cron, several runs under the same budget.
        for _run in range(20):
            if not self.env["shopfloor.event"].search_count([("state", "=", "pending")]):
                break
            with self.clock_ticking_one_second_per_event():
                self.budget(2500)._cron_retry()
        self.assertEqual(set(self.events_of(batch).mapped("state")), {"applied"})
        one_by_one = []
        for event in self.day_of(self.mo2, offset=test_batch_apply.SECOND_RUN, tag="single"):
            one_by_one += self.ingest(event)
        budgeted = self.snapshot(self.mo1, batch)
        single = self.snapshot(self.mo2, one_by_one, offset=test_batch_apply.SECOND_RUN)
        for key in budgeted:
            self.assertEqual(budgeted[key], single[key], key)
        self.assertEqual(budgeted["mo"][1], 18 + 2 + 3 + 2 + 1)
