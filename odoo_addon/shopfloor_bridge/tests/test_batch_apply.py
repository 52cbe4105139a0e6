"""A batch applies exactly as its events one by one, with Odoo's stock cascade run once per MO.

In a batch, production reports write the MO's producing quantity at once and
leave ``_set_qty_producing`` (moves, move lines) to ``ProducingSync``, which
runs it once per touched MO: before an event that reads the MO's moves, and
when the batch ends. These tests apply the same day of one line once as a
batch and once one event per call, on two identical MOs, and compare every
record the events produced; and they break the deferred cascade on purpose.
"""

import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest.mock import patch

import psycopg2.errors

from odoo.exceptions import UserError
from odoo.tests import tagged

from .. import handlers
from ..handlers import producing, scrap_reported
from .common import ShopfloorCase

PRESS = "plant1/line1/press-01"
ASSEMBLY = "plant1/line1/assembly-01"
# The second run starts two hours later, on the same working morning, so that
# durations computed on the working calendar compare one for one.
SECOND_RUN = timedelta(hours=2)
EVENT_TYPES = (
    "workorder.started",
    "workorder.paused",
    "workorder.resumed",
    "workorder.completed",
    "production.reported",
    "material.consumed",
    "scrap.reported",
    "production.corrected",
    "scrap.reversed",
    "consumption.reversed",
    "quality.result",
    "quality.hold",
    "quality.released",
    "downtime.started",
    "downtime.ended",
    "setup.started",
    "setup.ended",
    "teardown.started",
    "teardown.ended",
)
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")


@tagged("post_install", "-at_install")
class TestBatchedApply(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mo3 = cls._make_mo(100)

    def day_of(self, production, offset=timedelta(), tag=""):
        """The line's events for ``production``, in the order a batch applies them
        (per workcenter, then time): production reports around every kind of
        event that reads or changes the MO's moves or time logs."""
        order = production.name

        def event(minute, type_, data, source=PRESS):
            data = {"order": order, **data} if type_ not in ("downtime.started", "downtime.ended") else data
            return self.make_event(type_, data, source=source, time=self.at(minute) + offset)

        cutting = {"operation": "Cutting"}
        assembly = {"operation": "Assembly"}
        return [
            event(0, "workorder.started", cutting),
            event(1, "production.reported", {**cutting, "qty_good": 2}),
            event(2, "production.reported", {**cutting, "qty_good": 3, "qty_scrap": 1}),
            event(3, "production.reported", {**cutting, "qty_good": 2}),
            event(4, "material.consumed", {**cutting, "material": "STEEL-2MM", "qty": 1.5, "uom": "KG"}),
            event(5, "production.reported", {**cutting, "qty_good": 2}),
            event(6, "quality.result", {**cutting, "characteristic": "width", "pass": True, "value": 3.0}),
            event(7, "production.reported", {**cutting, "qty_good": 1}),
            event(8, "downtime.started", {"reason_code": "MAT", "downtime_id": f"stop-{tag}"}),
            event(10, "downtime.ended", {"reason_code": "MAT", "downtime_id": f"stop-{tag}"}),
            event(11, "workorder.resumed", cutting),
            event(12, "production.reported", {**cutting, "qty_good": 4}),
            event(13, "scrap.reported", {**cutting, "qty": 1, "reason_code": "DEFECT"}),
            event(14, "production.reported", {**cutting, "qty_good": 2}),
            event(15, "workorder.paused", {**cutting, "reason_code": "MAT"}),
            event(16, "workorder.resumed", cutting),
            event(16.5, "material.consumed", {**cutting, "material": "STEEL-2MM", "qty": 0.7, "uom": "KG"}),
            event(17, "production.reported", {**cutting, "qty_good": 2}),
            event(18, "workorder.completed", {**cutting, "qty_good": 18}),
            event(19, "workorder.started", assembly, source=ASSEMBLY),
            event(20, "production.reported", {**assembly, "qty_good": 2}, source=ASSEMBLY),
            event(21, "production.reported", {**assembly, "qty_good": 3}, source=ASSEMBLY),
            event(22, "scrap.reported", {**assembly, "material": "M8", "qty": 3}, source=ASSEMBLY),
            event(23, "production.reported", {**assembly, "qty_good": 2}, source=ASSEMBLY),
            event(24, "workorder.paused", assembly, source=ASSEMBLY),
            event(25, "production.reported", {**assembly, "qty_good": 1}, source=ASSEMBLY),
        ]

    # ------------------------------------------------------------------ what is compared

    def snapshot(self, production, results, offset=timedelta()):
        """Every figure the events (``results``) produced on ``production``, free of ids and of the run's offset."""
        production.invalidate_recordset()
        moves = production.move_raw_ids | production.move_finished_ids | production.move_byproduct_ids

        def when(moment):
            return moment and moment - offset

        logs = self.env["mrp.workcenter.productivity"].search(
            [
                "|",
                ("workorder_id", "in", production.workorder_ids.ids),
                ("shopfloor_event_id", "in", self.events_of(results).ids),
            ]
        )
        scraps = self.env["stock.scrap"].search([("production_id", "=", production.id)])
        figures = {
            "mo": (production.state, production.qty_producing, production.qty_produced),
            "workorders": sorted(
                (
                    wo.name,
                    wo.state,
                    wo.qty_produced,
                    wo.qty_producing,
                    wo.shopfloor_qty_scrap,
                    round(wo.duration, 4),
                    round(wo.duration_expected, 4),
                )
                for wo in production.workorder_ids
            ),
            "moves": sorted(
                (
                    move.product_id.default_code,
                    move.state,
                    move.product_uom_qty,
                    move.quantity,
                    move.picked,
                    move.manual_consumption,
                    bool(move.scrapped),
                )
                for move in moves
            ),
            "move_lines": sorted(
                (
                    line.product_id.default_code,
                    line.quantity,
                    line.picked,
                    line.location_id.id,
                    line.location_dest_id.id,
                    line.lot_id.id,
                    line.package_id.id,
                    line.state,
                )
                for line in moves.move_line_ids
            ),
            "time_logs": sorted(
                (
                    log.workorder_id.name or "",
                    log.workcenter_id.id,
                    log.loss_id.id,
                    when(log.date_start),
                    when(log.date_end),
                    log.shopfloor_kind,
                    round(log.duration, 4),
                )
                for log in logs
            ),
            "scraps": sorted(
                (
                    scrap.product_id.default_code,
                    scrap.scrap_qty,
                    scrap.state,
                    when(scrap.date_done),
                    scrap.location_id.id,
                    scrap.workorder_id.name or "",
                    sorted((move.state, move.quantity, when(move.date)) for move in scrap.move_ids),
                    sorted((line.quantity, when(line.date)) for line in scrap.move_ids.move_line_ids),
                )
                for scrap in scraps
            ),
        }
        if "stock.valuation.layer" in self.env:
            layers = (moves | scraps.move_ids).stock_valuation_layer_ids
            figures["valuation"] = sorted(
                (layer.product_id.default_code, layer.quantity, layer.value, layer.remaining_qty) for layer in layers
            )
        if "shopfloor.cost.variance" in self.env:
            variance = self.env["shopfloor.cost.variance"].search([("production_id", "=", production.id)])
            numbers = [
                name for name, field in variance._fields.items() if field.type in ("float", "monetary") and field.store
            ]
            figures["cost"] = sorted(tuple(round(row[name], 4) for name in numbers) for row in variance)
        return figures

    def events_of(self, results):
        return self.env["shopfloor.event"].browse([result["event_id"] for result in results])

    def count_cascades(self):
        return patch.object(producing, "synchronise_moves", wraps=producing.synchronise_moves)

    @contextmanager
    def count_quantity_writes(self):
        """Yields the list of producing quantities the batch's runs of reports write, in order."""
        writes = []
        real = producing.ProducingSync.write_quantity

        def counted(sync):
            if sync._quantity:
                writes.append(sync._quantity[1])
            return real(sync)

        with patch.object(producing.ProducingSync, "write_quantity", autospec=True, side_effect=counted):
            yield writes

    def assert_same_as_one_by_one(self, batch, single_day):
        """Applies ``single_day`` (the day of ``batch``, on ``mo2`` and SECOND_RUN later) one
        event per call, asserts that every event of both runs applied and that ``mo1`` (the
        batch's) ends as ``mo2``; returns the batch's snapshot and the one-by-one results."""
        one_by_one = []
        for event in single_day:
            one_by_one += self.ingest(event)
        self.assertEqual({result["status"] for result in batch + one_by_one}, {"applied"}, batch + one_by_one)
        batched, single = self.snapshot(self.mo1, batch), self.snapshot(self.mo2, one_by_one, offset=SECOND_RUN)
        for key in batched:
            self.assertEqual(batched[key], single[key], key)
        return batched, one_by_one

    # ------------------------------------------------------------------ tests

    def test_a_batch_ends_with_the_records_of_its_events_applied_one_by_one(self):
        # Plain components: the batch consumes steel while the cascade still waits.
        self.assert_batch_applies_as_one_by_one()

    def test_a_manual_consumption_component_is_booked_as_one_by_one(self):
        # Steel is a manual-consumption component (a BOM option): Odoo's first
        # cascade books and picks it and later ones leave it alone, so the
        # floor's consumption adds to that first booking: the batch runs the
        # MO's first cascade at once.
        for production in self.mo1 | self.mo2:
            production.move_raw_ids.filtered(lambda m: m.product_id == self.product_steel).manual_consumption = True
        self.assert_batch_applies_as_one_by_one()

    def assert_batch_applies_as_one_by_one(self):
        with self.count_cascades() as batched_cascades:
            batch = self.ingest(*self.day_of(self.mo1, tag="batch"))
        self.assertEqual({result["status"] for result in batch}, {"applied"}, batch)

        one_by_one = []
        with self.count_cascades() as single_cascades:
            for event in self.day_of(self.mo2, offset=SECOND_RUN, tag="single"):
                one_by_one += self.ingest(event)
        self.assertEqual({result["status"] for result in one_by_one}, {"applied"}, one_by_one)

        batched, single = self.snapshot(self.mo1, batch), self.snapshot(self.mo2, one_by_one, offset=SECOND_RUN)
        for key in batched:
            self.assertEqual(batched[key], single[key], key)
        # Not vacuous: the day moved quantities, logs and scraps …
        self.assertEqual(batched["mo"][1], 18 + 2 + 3 + 2 + 1)
        self.assertTrue(batched["move_lines"] and batched["scraps"] and len(batched["time_logs"]) >= 5, batched)
        bolts = next(move for move in batched["moves"] if move[0] == "RM-BOLT" and not move[6])
        self.assertEqual(bolts[3], 26 * 4, "the cascade booked the bolts of the whole producing quantity")
        # … and the batch ran the cascade once per synchronisation point, not once per report.
        self.assertLess(batched_cascades.call_count, single_cascades.call_count)
        # The events record the same results (their references point at each run's own records).
        self.assertEqual(
            [(event.type, event.production_id == self.mo1, bool(event.result_refs)) for event in self.events_of(batch)],
            [
                (event.type, event.production_id == self.mo2, bool(event.result_refs))
                for event in self.events_of(one_by_one)
            ],
        )

    def test_components_reserved_on_a_shelf_are_booked_as_one_by_one(self):
        # Bolts reserved on a sublocation: report by report, Odoo keeps the
        # reserved line for what it first booked and adds plain lines for the
        # rest; the batch must end with the same lines, not one shelf line.
        shelf = self.env["stock.location"].create({"name": "Shelf B", "location_id": self.stock_location.id})
        self.env["stock.quant"]._update_available_quantity(self.product_bolt, shelf, 1000.0)
        for production in self.mo1 | self.mo2:
            bolts = production.move_raw_ids.filtered(lambda m: m.product_id == self.product_bolt)
            bolts.move_line_ids.location_id = shelf
        batch = self.ingest(*self.day_of(self.mo1, tag="shelf-batch"))
        batched, _one_by_one = self.assert_same_as_one_by_one(
            batch, self.day_of(self.mo2, offset=SECOND_RUN, tag="shelf-single")
        )
        bolt_lines = [line for line in batched["move_lines"] if line[0] == "RM-BOLT" and line[-1] != "done"]
        self.assertEqual(sorted(line[3] for line in bolt_lines), sorted([shelf.id, self.stock_location.id]))

    def test_a_failed_deferred_cascade_applies_the_batch_again_event_by_event(self):
        # A one-off fault in the batch's cascade (a lock, a serialisation error):
        # the batched pass is rolled back and the events are applied one by one.
        real = producing.synchronise_moves
        calls = []

        def fails_once(production):
            calls.append(production.id)
            if len(calls) == 1:
                raise RuntimeError("could not serialize access due to concurrent update")
            return real(production)

        with patch.object(producing, "synchronise_moves", side_effect=fails_once):
            batch = self.ingest(*self.day_of(self.mo1, tag="retry"))
        self.assertEqual({result["status"] for result in batch}, {"applied"}, batch)
        for event in self.events_of(batch):
            self.assertEqual(len(event.history_ids.filtered(lambda log: log.action == "apply")), 1, event.type)

        reference = []
        for event in self.day_of(self.mo2, offset=SECOND_RUN, tag="reference"):
            reference += self.ingest(event)
        self.assertEqual(self.snapshot(self.mo1, batch), self.snapshot(self.mo2, reference, offset=SECOND_RUN))

    def test_an_mo_whose_cascade_keeps_failing_fails_its_reports_and_nothing_else(self):
        # The cascade of one MO fails every time: its production reports end
        # failed (retried later) with the error, none applied without effect;
        # the other MO's events in the same batch apply normally.
        real = producing.synchronise_moves
        broken = self.mo3

        def fails_for_one_mo(production):
            if production == broken:
                raise RuntimeError(f"stock cascade of {production.name} failed")
            return real(production)

        healthy_events = self.day_of(self.mo1, tag="healthy")
        broken_events = [
            self.make_event(
                "workorder.started",
                {"order": broken.name, "operation": "Cutting"},
                source=ASSEMBLY,
                time=self.at(1) + SECOND_RUN,
            ),
            self.make_event(
                "production.reported",
                {"order": broken.name, "operation": "Cutting", "qty_good": 2},
                source=ASSEMBLY,
                time=self.at(2) + SECOND_RUN,
            ),
            self.make_event(
                "production.reported",
                {"order": broken.name, "operation": "Cutting", "qty_good": 3},
                source=ASSEMBLY,
                time=self.at(3) + SECOND_RUN,
            ),
        ]
        with patch.object(producing, "synchronise_moves", side_effect=fails_for_one_mo):
            results = self.ingest(*healthy_events, *broken_events)
        by_id = {result["id"]: result for result in results}
        self.assertEqual({by_id[event["id"]]["status"] for event in healthy_events}, {"applied"})
        started, *reports = (by_id[event["id"]] for event in broken_events)
        self.assertEqual(started["status"], "applied")
        for report in reports:
            self.assertEqual(report["status"], "failed")
            self.assertIn(f"stock cascade of {broken.name} failed", report["error"])
        failed = self.events_of(reports)
        self.assertEqual(set(failed.mapped("state")), {"failed"})
        self.assertTrue(all(failed.mapped("next_retry_at")))
        self.assertEqual(broken.qty_producing, 0, "a failed report leaves no quantity behind")

        # Once the cascade works again the retry applies them, once.
        self.retry_due()
        self.assertEqual(set(failed.mapped("state")), {"applied"})
        self.assertEqual(broken.qty_producing, 5)
        self.assertEqual(broken.move_raw_ids.filtered(lambda m: m.product_id == self.product_bolt).quantity, 20)

    def test_a_report_failing_after_its_quantity_was_counted_is_left_out_of_the_run(self):
        # Consecutive reports of an MO write its producing quantity once; one
        # that fails after adding to the run (its savepoint rolled back) must
        # not leave its quantity in it.
        real = producing.ProducingSync.add_quantity

        def add_then_fail(sync, production, qty):
            real(sync, production, qty)
            if qty == 3:
                raise RuntimeError("connection to the database lost")

        def report(minute, qty):
            return self.make_event(
                "production.reported",
                {"order": self.mo1.name, "operation": "Cutting", "qty_good": qty},
                time=self.at(minute),
            )

        events = [
            self.make_event("workorder.started", {"order": self.mo1.name, "operation": "Cutting"}, time=self.at(0)),
            report(1, 2),
            report(2, 3),
            report(3, 4),
        ]
        with patch.object(producing.ProducingSync, "add_quantity", autospec=True, side_effect=add_then_fail):
            results = self.ingest(*events)
        self.assertEqual([result["status"] for result in results], ["applied", "applied", "failed", "applied"])
        self.assertEqual(self.mo1.qty_producing, 6)
        bolts = self.mo1.move_raw_ids.filtered(lambda m: m.product_id == self.product_bolt)
        self.assertEqual(bolts.quantity, 24)

    def test_a_hold_raised_and_released_inside_a_batch_holds_the_reports_between(self):
        # Hold checks are skipped while no hold is active; a hold raised by an
        # event of the same batch must still hold the reports that follow it.
        def event(minute, type_, data):
            return self.make_event(type_, {"order": self.mo1.name, **data}, time=self.at(minute))

        report = {"operation": "Cutting", "qty_good": 2}
        results = self.ingest(
            event(0, "workorder.started", {"operation": "Cutting"}),
            event(1, "production.reported", report),
            event(2, "quality.hold", {"hold_id": "H-batch", "reason": "burr on the edge"}),
            event(3, "production.reported", report),
            event(4, "quality.released", {"hold_id": "H-batch"}),
            event(5, "production.reported", report),
        )
        self.assertEqual(
            [result["status"] for result in results],
            ["applied", "applied", "applied", "pending", "applied", "applied"],
            results,
        )
        self.assertEqual(self.mo1.qty_producing, 4)
        self.assertEqual(self.events_of(results[3:4]).error_class, "hold")

    def test_after_the_cache_is_cleared_the_batch_reads_its_events_back_together(self):
        # Odoo clears its whole cache on every unlink (and a rolled back savepoint does too):
        # the events still to apply are read back in one query, not one query each.
        apply_event = handlers.apply_event

        def run(production, clear):
            cleared = []

            def clearing(event, *args, **kwargs):
                records = apply_event(event, *args, **kwargs)
                if clear and not cleared:
                    cleared.append(event.type)
                    event.env.invalidate_all()
                return records

            def event(minute, type_, data):
                data = {"order": production.name, "operation": "Cutting", **data}
                return self.make_event(type_, data, time=self.at(minute))

            batch = [event(0, "workorder.started", {})]
            batch += [event(minute, "production.reported", {"qty_good": 1}) for minute in range(1, 31)]
            with patch.object(handlers, "apply_event", side_effect=clearing), self.recorded_sql() as statements:
                results = self.ingest(*batch)
            self.assertEqual({result["status"] for result in results}, {"applied"}, results)
            self.assertEqual(production.qty_producing, 30)
            self.assertEqual(cleared, ["workorder.started"] if clear else [])
            return [sql for sql in statements if 'FROM "shopfloor_event" WHERE ("shopfloor_event"."id" IN' in sql]

        untouched = run(self.mo1, clear=False)
        cleared = run(self.mo2, clear=True)
        self.assertEqual(len(cleared), len(untouched) + 1, "the 30 events after the clear read back in one query")

    def test_passing_checks_keep_the_batch_s_hold_answer_a_failing_one_holds_what_follows(self):
        # "Is any hold active?" is asked once for a batch whose checks pass; a failed check
        # raises a hold (the company holds on a failed check), and the report after it waits.
        def event(minute, type_, data):
            return self.make_event(type_, {"order": self.mo1.name, **data}, time=self.at(minute))

        report = {"operation": "Cutting", "qty_good": 2}
        check = {"operation": "Cutting", "characteristic": "hardness", "value": 45, "low": 40}
        with self.recorded_sql() as statements:
            results = self.ingest(
                event(0, "workorder.started", {"operation": "Cutting"}),
                *[
                    one
                    for minute in (1, 3, 5)
                    for one in (
                        event(minute, "quality.result", {**check, "pass": True}),
                        event(minute + 1, "production.reported", report),
                    )
                ],
            )
        self.assertEqual({result["status"] for result in results}, {"applied"}, results)
        counts = [sql for sql in statements if "COUNT(*)" in sql and '"shopfloor_hold"' in sql]
        self.assertEqual(len(counts), 1, "asked once: no check of the batch raised a hold")
        results = self.ingest(
            event(7, "quality.result", {**check, "pass": False, "value": 31}),
            event(8, "production.reported", report),
        )
        self.assertEqual([result["status"] for result in results], ["applied", "pending"], results)
        self.assertEqual(self.mo1.qty_producing, 6)
        self.assertEqual(self.events_of(results[1:]).error_class, "hold")

    def scrap_day(self, production, offset=timedelta()):
        """Scraps of the order's own product between reports and time logs (made and
        validated together by the batch), and one of a component the order has reserved
        (validated at once, in its place)."""

        def event(minute, type_, data):
            data = {"order": production.name, "operation": "Cutting", **data}
            return self.make_event(type_, data, source=PRESS, time=self.at(minute) + offset)

        return [
            event(0, "workorder.started", {}),
            event(1, "production.reported", {"qty_good": 2}),
            event(2, "scrap.reported", {"qty": 1, "reason_code": "DEFECT"}),
            event(3, "production.reported", {"qty_good": 3}),
            event(4, "scrap.reported", {"qty": 2}),
            event(5, "scrap.reported", {"material": "M8", "qty": 3}),
            event(6, "workorder.paused", {}),
            event(7, "scrap.reported", {"qty": 7}),
            event(8, "workorder.resumed", {}),
            event(9, "production.reported", {"qty_good": 2}),
            event(10, "scrap.reported", {"qty": 1}),
        ]

    def paused_day(self, production, offset=timedelta()):
        """Reports of two units a minute with a pause and a resume after each: the work stays
        within the expected duration (1.5 min a unit) for twenty minutes, then a long stop
        takes it past, so the pauses after it split off performance time."""
        order = {"order": production.name, "operation": "Cutting"}

        def event(minute, type_, data=None):
            return self.make_event(type_, {**order, **(data or {})}, source=PRESS, time=self.at(minute) + offset)

        day = [event(0, "workorder.started")]
        for minute in range(1, 21):
            day += [
                event(minute, "production.reported", {"qty_good": 2}),
                event(minute + 0.3, "workorder.paused", {"reason_code": "MAT"}),
                event(minute + 0.5, "workorder.resumed"),
            ]
        day += [
            event(100, "workorder.paused", {"reason_code": "MAT"}),
            event(101, "workorder.resumed"),
            event(102, "production.reported", {"qty_good": 3}),
            event(103, "workorder.paused", {"reason_code": "MAT"}),
            event(104, "production.reported", {"qty_good": 1}),
        ]
        return day

    def test_time_logs_within_the_expected_duration_leave_the_run_of_reports_unwritten(self):
        # A pause or a resume reads the work order's expected duration (the producing
        # quantity's): within it, the loss and the split are the same at the quantity
        # written and at the run's, so the run goes on; past it, the run is written first.
        with self.count_quantity_writes() as writes:
            batch = self.ingest(*self.paused_day(self.mo1))
        batched, _one_by_one = self.assert_same_as_one_by_one(batch, self.paused_day(self.mo2, offset=SECOND_RUN))
        performance = self.env["mrp.workcenter.productivity.loss"].search([("loss_type", "=", "performance")])
        self.assertTrue(set(performance.ids) & {log[2] for log in batched["time_logs"]}, "work past the expected")
        self.assertEqual(batched["mo"][1], 44)
        # 21 reports each followed by a pause: one write per report before; a handful now
        # (after the first report, whenever the work catches up with the written quantity,
        # past the long stop, at the end).
        self.assertLessEqual(len(writes), 8, writes)
        self.assertEqual(writes[-1], 44)

    def reports_and_scraps_day(self, production, offset=timedelta()):
        """Ten reports, each followed by a scrap of the order's own product."""
        order = {"order": production.name, "operation": "Cutting"}

        def event(minute, type_, data=None):
            return self.make_event(type_, {**order, **(data or {})}, source=PRESS, time=self.at(minute) + offset)

        day = [event(0, "workorder.started")]
        for minute in range(1, 21, 2):
            day += [
                event(minute, "production.reported", {"qty_good": 3}),
                event(minute + 1, "scrap.reported", {"qty": 1}),
            ]
        return day

    def test_scraps_of_the_orders_product_leave_the_run_of_reports_unwritten(self):
        # A scrap of the order's own product reads neither the producing quantity nor the
        # order's moves: the run of reports goes on across it, and is written once.
        with self.count_quantity_writes() as writes:
            batch = self.ingest(*self.reports_and_scraps_day(self.mo1))
        batched, _one_by_one = self.assert_same_as_one_by_one(
            batch, self.reports_and_scraps_day(self.mo2, offset=SECOND_RUN)
        )
        self.assertEqual(batched["mo"][1], 30)
        self.assertEqual(len(batched["scraps"]), 10)
        # One write per report before (each scrap wrote the run first); one at the end now.
        self.assertEqual(writes, [30])

    def test_a_components_scrap_that_ends_the_day_runs_the_cascade_at_the_reported_quantity(self):
        # A scrap of a component the order reserved runs the order's cascade first; the
        # run of reports before it is written first, or the cascade (the last of the
        # batch) would leave the moves at the quantity written before the run.
        def day(production, offset=timedelta()):
            order = {"order": production.name, "operation": "Cutting"}
            return [
                self.make_event(type_, {**order, **data}, source=PRESS, time=self.at(minute) + offset)
                for minute, type_, data in (
                    (0, "workorder.started", {}),
                    (1, "production.reported", {"qty_good": 2}),
                    (2, "production.reported", {"qty_good": 3}),
                    (3, "scrap.reported", {"material": "M8", "qty": 3}),
                )
            ]

        batch = self.ingest(*day(self.mo1))
        batched, _one_by_one = self.assert_same_as_one_by_one(batch, day(self.mo2, offset=SECOND_RUN))
        self.assertEqual(batched["mo"][1], 5)

    def test_scraps_of_one_order_are_made_together_as_one_by_one(self):
        with patch.object(producing, "validate_scraps", wraps=scrap_reported.validate_scraps) as together:
            batch = self.ingest(*self.scrap_day(self.mo1))
        batched, one_by_one = self.assert_same_as_one_by_one(batch, self.scrap_day(self.mo2, offset=SECOND_RUN))
        self.assertEqual(len(batched["scraps"]), 5)
        self.assertTrue(batched["valuation"], "the scraps are valued")
        # The four scraps of the order's product were made by the batch, not one by one …
        made = [item for call in together.call_args_list for item in call.args[0]]
        self.assertEqual(len(made), 4)
        self.assertLessEqual(together.call_count, 2)
        # … and each scrap event's result still names its own scrap, first, as when it made it itself.
        for events in (self.events_of(batch), self.events_of(one_by_one)):
            scrap_events = events.filtered(lambda event: event.type == "scrap.reported")
            first_refs = [event.result_refs.splitlines()[0] for event in scrap_events]
            self.assertTrue(all(ref.startswith("stock.scrap,") for ref in first_refs), first_refs)
            scraps = self.env["stock.scrap"].browse([int(ref.split(",")[1]) for ref in first_refs])
            self.assertEqual(len(scraps), 5)
            self.assertEqual(
                [scrap.date_done for scrap in scraps], [event.time.replace(microsecond=0) for event in scrap_events]
            )
            self.assertEqual(scrap_events.production_id, scraps.production_id)

    def test_a_scrap_refused_at_validation_fails_alone_and_the_others_apply(self):
        # Odoo refusing one scrap only when its move is done (a valuation rule, say). Patched:
        # no stock configuration here refuses a scrap the batch makes later (tracked
        # products, whose lot is checked there, are validated at once).
        stock_move = type(self.env["stock.move"])
        real = stock_move._action_done

        def refuses_seven_units(moves, cancel_backorder=False):
            if any(move.scrapped and move.product_uom_qty == 7 for move in moves):
                raise UserError(moves.env._("no cost known for scrapping 7 units"))
            return real(moves, cancel_backorder=cancel_backorder)

        with patch.object(stock_move, "_action_done", refuses_seven_units):
            batch = self.ingest(*self.scrap_day(self.mo1))
            one_by_one = []
            for event in self.scrap_day(self.mo2, offset=SECOND_RUN):
                one_by_one += self.ingest(event)
        self.assertEqual(
            [(result["status"], result["error"]) for result in batch],
            [(result["status"], result["error"]) for result in one_by_one],
        )
        refused = [result for result in batch if result["status"] != "applied"]
        self.assertEqual(len(refused), 1, batch)
        self.assertIn("no cost known for scrapping 7 units", refused[0]["error"])
        self.assertEqual(self.events_of(refused).state, "dead")
        batched, single = self.snapshot(self.mo1, batch), self.snapshot(self.mo2, one_by_one, offset=SECOND_RUN)
        for key in batched:
            self.assertEqual(batched[key], single[key], key)
        self.assertEqual(sorted(scrap[1] for scrap in batched["scraps"]), [1, 1, 2, 3], "the other scraps are done")

    def test_a_concurrent_update_is_left_to_odoo_to_retry_the_whole_call(self):
        # Two transactions booking the same quant: PostgreSQL fails one. Odoo
        # retries a whole RPC call (or the cron's next run does) on a fresh
        # snapshot; failing only these events would let later events of the
        # same order overtake them.
        concurrent = psycopg2.errors.SerializationFailure("could not serialize access due to concurrent update")
        # In the batch's deferred cascade (no fall back to event by event) …
        with (
            patch.object(producing, "synchronise_moves", side_effect=concurrent),
            self.assertRaises(psycopg2.errors.SerializationFailure),
        ):
            self.ingest(*self.day_of(self.mo1, tag="concurrent")[:4])
        # … and in an event's own apply (not recorded as this event's failure).
        with (
            patch("odoo.addons.shopfloor_bridge.handlers.apply_event", side_effect=concurrent),
            self.assertRaises(psycopg2.errors.SerializationFailure),
        ):
            self.ingest(*self.day_of(self.mo2, offset=SECOND_RUN, tag="concurrent-2")[:2])


@tagged("post_install", "-at_install")
class TestBatchedApplyEveryType(ShopfloorCase):
    """A day with every event type, applied as one batch, as work-center partitions
    (separate calls, in either order or interleaved, as parallel delivery sends
    them) and one event per call: each ends with the same records and the same
    outcome per event, failures and waits included.

    Partitions are the work centers' own orders here (the press cuts one MO,
    the assembly bench assembles another): events of different work centers on
    one MO are ordered by time only within a partition, so a completion (which
    sets the MO's quantity) or a time log split (which reads it) would depend
    on which partition came first; parallel delivery keeps a work center's
    events together, not an MO's."""

    snapshot = TestBatchedApply.snapshot
    events_of = TestBatchedApply.events_of

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.shopfloor_hold_on_quality_fail = True
        cls.mo3 = cls._make_mo(100)
        cls.mo4 = cls._make_mo(100)
        # Bolts received through an inventory adjustment, so in valuation layers cover what the
        # runs scrap and consume. On quants alone every out layer stays negative, and a return
        # (scrap.reversed) of a later run would vacuum an earlier run's layers first (FIFO),
        # which made two runs of one day differ in remaining_qty without either being wrong.
        stock = cls.env.ref("stock.warehouse0").lot_stock_id
        cls.env["stock.quant"].with_context(inventory_mode=True).create(
            {
                "product_id": cls.product_bolt.id,
                "location_id": stock.id,
                "inventory_quantity": cls.product_bolt.with_context(location=stock.id).qty_available + 500,
            }
        ).action_apply_inventory()

    # ------------------------------------------------------------------ the day

    def press_day(self, production, tag, offset=timedelta(), start=0):
        """Cutting on the press, from setup to teardown: every type but holds, with a breakdown
        that opens a maintenance request, two materials, both kinds of scrap, a dead event and a
        rejected one. Steps are two minutes apart: the work runs past the expected duration of
        what was reported so far, so closing a time log splits off a performance loss (which
        reads the MO's producing quantity)."""

        def event(step, type_, data=None, order=True, **envelope):
            data = {"order": production.name, "operation": "Cutting", **(data or {})} if order else data
            return self.make_event(type_, data, source=PRESS, time=self.at(start + 2 * step) + offset, **envelope)

        return [
            event(0, "setup.started"),
            event(1, "setup.ended"),
            event(2, "workorder.started", {"operator": "op-17"}),
            event(3, "production.reported", {"qty_good": 2}),
            event(4, "production.reported", {"qty_good": 3, "qty_scrap": 1}),
            event(5, "material.consumed", {"material": "STEEL-2MM", "qty": 1.5, "uom": "KG"}),
            event(6, "production.reported", {"qty_good": 2}),
            event(7, "material.consumed", {"material": "M8", "qty": 6, "uom": "PCS"}),
            event(7.5, "consumption.reversed", {"material": "M8", "qty": 2, "uom": "PCS"}),
            event(8, "production.reported", {"qty_good": 2}),
            event(9, "quality.result", {"characteristic": "width", "pass": True, "value": 3.0}),
            event(10, "production.reported", {"qty_good": 1}),
            event(11, "downtime.started", {"reason_code": "BRK", "downtime_id": f"brk-{tag}"}, order=False),
            event(12, "downtime.ended", {"reason_code": "BRK", "downtime_id": f"brk-{tag}"}, order=False),
            event(13, "workorder.resumed"),
            event(14, "production.reported", {"qty_good": 4}),
            event(14.5, "production.corrected", {"qty": -1}),
            event(14.7, "production.corrected", {"qty": -1000}),  # dead: below zero
            event(15, "material.consumed", {"material": "UNOBTAINIUM", "qty": 1}),  # dead: unknown material
            event(15.5, "scrap.reported", {"qty": 0}),  # rejected: nothing to scrap
            event(16, "scrap.reported", {"qty": 1, "reason_code": "DEFECT"}),
            event(17, "scrap.reported", {"material": "M8", "qty": 3}, id=f"scrap-m8-{tag}"),
            event(17.5, "scrap.reversed", {"scrap_event": f"scrap-m8-{tag}", "qty": 2}),
            event(18, "production.reported", {"qty_good": 2}),
            event(19, "workorder.paused", {"reason_code": "MAT"}),
            event(20, "workorder.resumed"),
            event(21, "downtime.started", {"reason_code": "MAT", "downtime_id": f"mat-{tag}"}, order=False),
            event(22, "downtime.ended", {"reason_code": "MAT", "downtime_id": f"mat-{tag}"}, order=False),
            event(23, "workorder.resumed"),
            event(24, "production.reported", {"qty_good": 2}),
            event(25, "workorder.completed", {"qty_good": 18, "qty_scrap": 1}),
            event(26, "teardown.started"),
            event(27, "teardown.ended"),
        ]

    def assembly_day(self, production, tag, offset=timedelta(), start=0):
        """Assembly on the bench, ending with holds: a floor hold and a failed check
        hold reports that apply once released. Nothing after the releases reads the
        MO's quantity or opens a time log, so a report applied when its hold is
        released (one event per call) or by the next retry (a batch) ends the same."""

        def event(minute, type_, data=None):
            data = {"order": production.name, "operation": "Assembly", **(data or {})}
            return self.make_event(type_, data, source=ASSEMBLY, time=self.at(start + minute) + offset)

        return [
            event(0, "workorder.started"),
            event(1, "production.reported", {"qty_good": 2}),
            event(2, "production.reported", {"qty_good": 3}),
            event(3, "material.consumed", {"material": "M8", "qty": 4, "uom": "PCS"}),
            event(4, "scrap.reported", {"material": "M8", "qty": 3}),
            event(5, "production.reported", {"qty_good": 2}),
            event(6, "workorder.paused"),
            event(7, "workorder.resumed"),
            event(8, "quality.hold", {"hold_id": f"hold-{tag}", "reason": "burr on the edge"}),
            event(9, "production.reported", {"qty_good": 1}),  # waits for the release
            event(10, "quality.released", {"hold_id": f"hold-{tag}"}),
            event(11, "quality.result", {"characteristic": "torque", "pass": True, "value": 12.0}),
            event(
                12, "quality.result", {"characteristic": "torque", "pass": False, "value": 9.0, "low": 10, "high": 14}
            ),
            event(13, "production.reported", {"qty_good": 2}),  # waits for the release
            event(14, "quality.released"),
            event(15, "quality.result", {"characteristic": "torque", "pass": True, "value": 11.5}),
        ]

    # ------------------------------------------------------------------ what is compared

    def stock_levels(self):
        """Quantity per (product, location, lot) of the plant's products: the runs' deltas are compared."""
        products = self.product_steel | self.product_bolt | self.product_bracket
        quants = self.env["stock.quant"].search([("product_id", "in", products.ids)])
        levels = {}
        for quant in quants:
            key = (quant.product_id.default_code, quant.location_id.id, quant.lot_id.id)
            levels[key] = levels.get(key, 0.0) + quant.quantity
        return levels

    def settled(self, apply_run):
        """``apply_run()`` → its results; then waiting events retried as the cron would; returns
        (results, stock delta)."""
        before = self.stock_levels()
        results = apply_run()
        self.retry_due()
        after = self.stock_levels()
        delta = {key: round(after.get(key, 0.0) - before.get(key, 0.0), 6) for key in {*before, *after}}
        return results, {key: value for key, value in delta.items() if value}

    def full_snapshot(self, productions, results, offset, tag):
        """Every record of the run, free of ids, of the run's offset, MO names and tag.
        ``productions``: {label: MO}."""
        labels = {production.name: label for label, production in productions.items()}

        def norm(text):
            text = text or ""
            for name, label in labels.items():
                text = text.replace(name, f"<{label}>")
            return DATETIME.sub("<time>", text.replace(tag, "<tag>"))

        def when(moment):
            return moment and moment - offset

        figures = {}
        for label, production in productions.items():
            for key, value in self.snapshot(production, results, offset).items():
                figures[f"{label}:{key}"] = value
        mos = self.env["mrp.production"].browse([production.id for production in productions.values()])
        events = self.env["shopfloor.event"].browse(
            [result["event_id"] for result in results if result.get("event_id")]
        )
        self.assertEqual(len(events), len(results), results)
        events.invalidate_recordset()
        figures["events"] = [
            (
                event.type,
                event.state,
                event.error_class or "",
                norm(event.error_message),
                sorted(ref.split(",")[0] for ref in (event.result_refs or "").splitlines()),
                labels.get(event.production_id.name, ""),
                event.workorder_id.name or "",
                event.attempts,
            )
            # Partitions send events of one time in either order: by time and source, then id
            # (a rejected event keeps no time).
            for event in events.sorted(lambda event: (event.time or datetime.min, event.source, event.id))
        ]
        figures["results"] = [(result["status"], norm(result.get("error"))) for result in results]
        holds = self.env["shopfloor.hold"].search([("production_id", "in", mos.ids)])
        figures["holds"] = sorted(
            (
                labels[hold.production_id.name],
                hold.workorder_id.name or "",
                hold.state,
                norm(hold.reason),
                norm(hold.hold_ref),
                when(hold.date_start),
                when(hold.date_release),
                bool(hold.quality_result_id),
                norm(hold.name),
            )
            for hold in holds
        )
        checks = self.env["shopfloor.quality.result"].search([("production_id", "in", mos.ids)])
        figures["quality"] = sorted(
            (
                labels[check.production_id.name],
                check.workorder_id.name or "",
                check.characteristic,
                check.passed,
                check.value,
                check.low,
                check.high,
                when(check.time),
                check.workcenter_id.id,
                bool(check.hold_id),
            )
            for check in checks
        )
        requests = self.env["maintenance.request"].browse(
            [
                int(ref.split(",")[1])
                for ref in "\n".join(refs for refs in events.mapped("result_refs") if refs).splitlines()
                if ref.startswith("maintenance.request,")
            ]
        )
        figures["maintenance"] = sorted(
            (
                norm(request.name),
                request.maintenance_type,
                when(request.schedule_date),
                request.equipment_id.id,
                request.priority,
            )
            for request in requests
        )
        return figures

    def assert_same(self, first, second):
        self.assertEqual(first.keys(), second.keys())
        for key in first:
            self.assertEqual(first[key], second[key], key)

    def one_by_one(self, events):
        results = []
        for event in sorted(events, key=lambda event: event["time"]):
            results += self.ingest(event)
        return results

    # ------------------------------------------------------------------ tests

    def test_every_event_type_applies_in_a_batch_as_one_by_one(self):
        day = self.press_day(self.mo1, "batch") + self.assembly_day(self.mo1, "batch", start=60)
        self.assertEqual({event["type"] for event in day}, set(EVENT_TYPES), "the day uses every event type")
        batch, batch_stock = self.settled(lambda: self.ingest(*day))
        single_day = self.press_day(self.mo2, "single", SECOND_RUN) + self.assembly_day(
            self.mo2, "single", SECOND_RUN, start=60
        )
        single, single_stock = self.settled(lambda: self.one_by_one(single_day))

        batched = self.full_snapshot({"MO": self.mo1}, batch, timedelta(), "batch")
        reference = self.full_snapshot({"MO": self.mo2}, single, SECOND_RUN, "single")
        self.assert_same(batched, reference)
        self.assertEqual(batch_stock, single_stock)
        # Not vacuous: waits, failures and every kind of record are in it.
        statuses = [status for status, _error in batched["results"]]
        self.assertEqual(statuses.count("pending"), 2, batched["results"])
        # Dead: an unknown material, a correction below zero.
        self.assertEqual(statuses.count("failed"), 2, batched["results"])
        self.assertEqual(statuses.count("rejected"), 1, batched["results"])  # a scrap of nothing
        states = {state for _type, state, *_rest in batched["events"]}
        self.assertEqual(states, {"applied", "dead", "rejected"})
        self.assertTrue(batched["maintenance"] and batched["holds"] and batched["quality"] and batch_stock)
        self.assertEqual(len(batched["holds"]), 2)
        self.assertTrue(all(hold[2] == "released" for hold in batched["holds"]), batched["holds"])
        self.assertEqual(batched["MO:mo"][1], 18 + 2 + 3 + 2 + 1 + 2)
        performance = self.env["mrp.workcenter.productivity.loss"].search([("loss_type", "=", "performance")])
        self.assertTrue(
            set(performance.ids) & {log[2] for log in batched["MO:time_logs"]}, "work past the expected duration"
        )
        self.assertTrue(
            {"mrp.workcenter.productivity", "stock.scrap", "shopfloor.hold"}
            <= {model for event in batched["events"] for model in event[4]}
        )

    def partitioned_against_serial(self, order):
        """Press and assembly as two partitions sent as separate calls (``order`` of the
        partitions' chunks; None: both in one call), compared with the same day one event per call."""
        press = self.press_day(self.mo1, "part")
        assembly = self.assembly_day(self.mo2, "part", start=4)
        partitions = {"press": press, "assembly": assembly}

        def apply_partitions():
            if order is None:
                return self.ingest(*press, *assembly)
            results, sent = [], {"press": 0, "assembly": 0}
            for name, size in order:
                chunk = partitions[name][sent[name] : sent[name] + size]
                sent[name] += len(chunk)
                if chunk:
                    results += self.ingest(*chunk)
            self.assertEqual(sent, {"press": len(press), "assembly": len(assembly)})
            return results

        parted, parted_stock = self.settled(apply_partitions)
        serial_day = self.press_day(self.mo3, "serial", SECOND_RUN) + self.assembly_day(
            self.mo4, "serial", SECOND_RUN, start=4
        )
        serial, serial_stock = self.settled(lambda: self.one_by_one(serial_day))

        parted_figures = self.full_snapshot({"P": self.mo1, "A": self.mo2}, parted, timedelta(), "part")
        serial_figures = self.full_snapshot({"P": self.mo3, "A": self.mo4}, serial, SECOND_RUN, "serial")
        # The results come in the order the calls sent them; the events' end states in time order.
        del parted_figures["results"], serial_figures["results"]
        self.assert_same(parted_figures, serial_figures)
        self.assertEqual(parted_stock, serial_stock)
        self.assertEqual(sorted(result["status"] for result in parted), sorted(result["status"] for result in serial))
        self.assertTrue(parted_figures["maintenance"] and parted_figures["holds"])

    def test_partitions_press_then_assembly_equal_the_serial_run(self):
        self.partitioned_against_serial([("press", 100), ("assembly", 100)])

    def test_partitions_assembly_then_press_equal_the_serial_run(self):
        self.partitioned_against_serial([("assembly", 100), ("press", 100)])

    def test_interleaved_partitions_equal_the_serial_run(self):
        self.partitioned_against_serial([("press", 7), ("assembly", 5)] * 5)

    def test_two_work_centers_in_one_batch_equal_the_serial_run(self):
        # Time logs, scraps and reports of both work centers' orders in one call.
        self.partitioned_against_serial(None)

    def test_an_event_raising_in_a_batch_fails_alone_as_one_by_one(self):
        # A transient fault (not a business refusal) in one event of the batch: that
        # event fails with its error and is retried; the others apply as one by one.
        from .. import handlers  # noqa: PLC0415

        real = handlers.apply_event

        def faulty(event, **kwargs):
            if event.type == "quality.result" and event._get_data().get("value") == 3.0:
                raise RuntimeError("disk quota exceeded while writing the result")
            return real(event, **kwargs)

        day = self.press_day(self.mo1, "fault")
        with patch.object(handlers, "apply_event", side_effect=faulty):
            batch = self.ingest(*day)
        single_day = self.press_day(self.mo2, "fault-single", SECOND_RUN)
        with patch.object(handlers, "apply_event", side_effect=faulty):
            single = self.one_by_one(single_day)
        self.assertEqual(
            [(result["status"], result["error"]) for result in batch],
            [
                (
                    result["status"],
                    result["error"].replace("fault-single", "fault").replace(self.mo2.name, self.mo1.name),
                )
                for result in single
            ],
        )
        failed = [result for result in batch if result["status"] == "failed" and "quota" in result["error"]]
        self.assertEqual(len(failed), 1, batch)
        self.assert_same(
            self.full_snapshot({"MO": self.mo1}, batch, timedelta(), "fault"),
            self.full_snapshot({"MO": self.mo2}, single, SECOND_RUN, "fault-single"),
        )
