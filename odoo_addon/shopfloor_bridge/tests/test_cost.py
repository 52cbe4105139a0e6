"""Standard vs actual cost, checked against numbers computed by hand.

The worked example (readme/USAGE.md, Real-time cost, walks through the same numbers): an MO of
100 Brackets, BOM 0.5 kg steel at 2.50/kg + 4 bolts at 0.10, routing Cutting on
Press 01 (60.00/h, setup 10 + cleanup 5 min, 1.5 min/unit) then Assembly on
Assembly 01 (40.00/h, 2 min/unit). 97 good, 3 scrapped, 52 kg steel and 400
bolts consumed, 1 kg steel scrapped, a breakdown, a material wait, rework.
"""

from datetime import timedelta
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import SQL

from ..hooks import uninstall_hook
from ..models.shopfloor_cost_variance import STOCK_INDEXES, _CostInputs
from .common import ShopfloorCase


class CostFixtures:
    """The worked example, built from the records the event handlers write
    (time logs, raw move quantities, validated scraps) so the figures can be
    checked by hand; TestCostThroughIngest drives the same through events."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Setup and cleanup standards on the press: 10 + 5 minutes per order.
        cls.wc_press1.write({"time_start": 10.0, "time_stop": 5.0})
        cls.loss_speed = cls.env.ref("mrp.block_reason4")
        cls.loss_defect = cls.env.ref("mrp.block_reason5")
        cls.operator_b = cls.env["res.users"].create({"name": "Operator B", "login": "cost-operator-b"})

    def refresh(self, production):
        return self.env["shopfloor.cost.variance"]._refresh_for_productions(production)

    def variance_of(self, production, operation_name):
        workorder = self.workorder_of(production, operation_name)
        return production.shopfloor_cost_variance_ids.filtered(lambda row: row.workorder_id == workorder)

    def log(self, workorder, loss, start, end, user=None, kind=None):
        values = {
            "workcenter_id": workorder.workcenter_id.id,
            "workorder_id": workorder.id,
            "loss_id": loss.id,
            "date_start": start,
            "date_end": end,
            "user_id": (user or self.env.user).id,
        }
        if kind and "shopfloor_kind" in self.env["mrp.workcenter.productivity"]._fields:
            values["shopfloor_kind"] = kind
        return self.env["mrp.workcenter.productivity"].create(values)

    def scrap(self, production, product, qty, workorder=None):
        scrap = self.env["stock.scrap"].create(
            {
                "product_id": product.id,
                "product_uom_id": product.uom_id.id,
                "scrap_qty": qty,
                "production_id": production.id,
                "workorder_id": workorder.id if workorder else False,
            }
        )
        scrap.do_scrap()
        return scrap

    def run_worked_example(self, before_refresh=None, finish=False):
        """The worked example of readme/USAGE.md, on a fresh MO of 100 (minutes from 08:00 UTC, Monday)."""
        production = self._make_mo(100)
        cutting = self.workorder_of(production, "Cutting")
        assembly = self.workorder_of(production, "Assembly")
        at = self.at
        self.log(cutting, self.loss_setup, at(0), at(12), kind="setup")
        self.log(cutting, self.loss_productive, at(12), at(60), kind="work")
        self.log(cutting, self.loss_breakdown, at(60), at(80), kind="downtime")
        self.log(cutting, self.loss_productive, at(80), at(140), kind="work")
        self.log(cutting, self.loss_defect, at(140), at(146), kind="downtime")
        self.log(cutting, self.loss_productive, at(146), at(160), kind="work")
        self.log(cutting, self.loss_speed, at(160), at(170), kind="work")
        self.log(cutting, self.loss_setup, at(170), at(175), kind="teardown")
        self.log(assembly, self.loss_productive, at(120), at(160), kind="work")
        self.log(assembly, self.loss_material, at(160), at(168), kind="downtime")
        self.log(assembly, self.loss_productive, at(168), at(350), kind="work")
        self.log(assembly, self.loss_productive, at(120), at(150), user=self.operator_b, kind="work")
        production.qty_producing = 97
        production._set_qty_producing()
        # Both operations completed 97, as workorder.completed records it.
        (cutting | assembly).with_context(bypass_duration_calculation=True).write({"state": "done", "qty_produced": 97})
        consumed = {self.product_steel: 52.0, self.product_bolt: 400.0}
        for move in production.move_raw_ids:
            move.write({"quantity": consumed[move.product_id], "picked": True})
        self.scrap(production, self.product_bracket, 3, workorder=assembly)
        self.scrap(production, self.product_steel, 1)
        if before_refresh:
            before_refresh(production)
        if finish:
            production.with_context(skip_consumption=True, skip_backorder=True).button_mark_done()
        self.refresh(production)
        return production


@tagged("post_install", "-at_install")
class TestCostVariance(CostFixtures, ShopfloorCase):
    def test_an_mo_s_scraps_are_read_by_index(self):
        # Refreshed after each batch: reading an MO's scraps must not scan every scrap and
        # every stock move of the database (STOCK_INDEXES, made by the model's init).
        production = self.run_worked_example()
        queries = []
        read = _CostInputs._query

        def recorded(inputs, query):
            queries.append(query)
            return read(inputs, query)

        with patch.object(_CostInputs, "_query", recorded):
            self.refresh(production)
        scraps = [query for query in queries if "FROM stock_scrap scrap" in query.code]
        self.assertEqual(len(scraps), 1)
        self.assertEqual(len(self.env.execute_query(scraps[0])), 2, "the worked example's two scraps")
        # A plant's database holds many scraps of other orders. Without them the planner may
        # find the primary key as cheap as any index (it did, by the statistics of the day).
        self.env.cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'stock_scrap'")
        copied = [
            SQL.identifier(column)
            for (column,) in self.env.cr.fetchall()
            if column not in ("id", "production_id", "workorder_id")
        ]
        self.env.cr.execute(
            SQL(
                "INSERT INTO stock_scrap (%(columns)s) SELECT %(columns)s FROM stock_scrap, generate_series(1, 3000)"
                " WHERE production_id = %(production)s",
                columns=SQL(", ").join(copied),
                production=production.id,
            )
        )
        self.env.cr.execute("ANALYZE stock_scrap")
        # With sequential scans priced out, the plan shows which indexes there are to use.
        self.env.cr.execute("SET LOCAL enable_seqscan = off")
        self.addCleanup(self.env.cr.execute, "RESET enable_seqscan")
        plan = "\n".join(row[0] for row in self.env.execute_query(SQL("EXPLAIN %s", scraps[0])))
        # Each table found through its key column, not scanned (a scan of the primary key in
        # its order, filtering, is no better than a sequential one).
        self.assertIn("Index Cond: (production_id = ANY", plan)
        self.assertIn("Index Cond: (scrap_id = scrap.id)", plan)

    def test_uninstall_drops_the_indexes_on_stock_tables(self):
        def present():
            self.env.cr.execute("SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [list(STOCK_INDEXES)])
            return {name for (name,) in self.env.cr.fetchall()}

        self.assertEqual(present(), set(STOCK_INDEXES))
        with self.env.cr.savepoint(flush=False) as savepoint:
            uninstall_hook(self.env)
            self.assertEqual(present(), set(), "nothing of the module is left on Odoo's tables")
            savepoint.rollback()
        self.assertEqual(present(), set(STOCK_INDEXES))

    def test_worked_example_workorders(self):
        production = self.run_worked_example()
        cutting = self.variance_of(production, "Cutting")
        # Standard minutes: 10 + 5 + 100 x 1.5 = 165 planned; 15 + 97 x 1.5 = 160.5 for the good qty.
        self.assertAlmostEqual(cutting.duration_planned, 165.0)
        self.assertAlmostEqual(cutting.duration_expected, 160.5)
        # 12 setup + 48 + 20 breakdown + 60 + 6 rework + 14 + 10 slow + 5 teardown.
        self.assertAlmostEqual(cutting.duration_actual, 175.0)
        self.assertAlmostEqual(cutting.duration_variance_pct, (175 - 160.5) / 160.5 * 100, places=2)
        self.assertAlmostEqual(cutting.setup_standard, 15.0)
        self.assertAlmostEqual(cutting.setup_actual, 17.0)
        # Running time (productive + reduced speed): 48 + 60 + 14 + 10 = 132 min.
        self.assertAlmostEqual(cutting.labour_hours, 2.2)
        self.assertAlmostEqual(cutting.machine_hours, 2.2)
        self.assertAlmostEqual(cutting.labour_hours_per_unit, 2.2 / 97, places=6)
        self.assertAlmostEqual(cutting.std_hours_per_unit, 165 / 60 / 100, places=6)
        self.assertEqual(cutting.cost_standard, 160.50)  # 160.5 min x 60.00/h
        self.assertEqual(cutting.cost_actual, 175.00)
        self.assertEqual(cutting.variance_amount, 14.50)

        assembly = self.variance_of(production, "Assembly")
        self.assertAlmostEqual(assembly.duration_expected, 194.0)
        self.assertAlmostEqual(assembly.duration_actual, 260.0)
        # Two operators: 40 + 182 + 30 = 252 labour minutes, 222 machine minutes (overlap counted once).
        self.assertAlmostEqual(assembly.labour_hours, 4.2)
        self.assertAlmostEqual(assembly.machine_hours, 3.7)
        self.assertAlmostEqual(assembly.machine_hours_per_unit, 3.7 / 97, places=6)
        self.assertEqual(assembly.cost_standard, 129.33)  # 194 min x 40.00/h = 129.333…
        self.assertEqual(assembly.cost_actual, 173.33)  # 260 min x 40.00/h = 173.333…
        self.assertEqual(assembly.variance_amount, 44.00)
        self.assertEqual(assembly.qty_scrap, 3.0)
        # The operations' actual cost is Odoo's own (mrp_account) work order cost.
        self.assertAlmostEqual(
            cutting.cost_actual + assembly.cost_actual, round(production.workorder_ids._cal_cost(), 2)
        )

    def test_worked_example_production(self):
        production = self.run_worked_example()
        row = production.shopfloor_cost_variance_id
        self.assertEqual(row.level, "production")
        self.assertEqual((row.qty_planned, row.qty_good, row.qty_scrap), (100.0, 97.0, 3.0))
        self.assertAlmostEqual(row.scrap_pct, 3.0)
        self.assertEqual(row.currency_id, self.company.currency_id)
        self.assertEqual(row.cost_operations_standard, 289.83)
        self.assertEqual(row.cost_operations_actual, 348.33)
        self.assertEqual(row.cost_material_standard, 160.05)  # 48.5 kg x 2.50 + 388 x 0.10
        self.assertEqual(row.cost_material_actual, 170.00)  # 52 kg x 2.50 + 400 x 0.10
        self.assertEqual(row.cost_component_scrap, 2.50)  # 1 kg steel
        self.assertEqual(row.cost_standard, 449.88)
        self.assertEqual(row.cost_actual, 520.83)
        self.assertEqual(row.variance_amount, 70.95)
        self.assertAlmostEqual(row.variance_pct, 70.95 / 449.88 * 100, places=2)
        # Planned standard 165 + 133.33 + 125 + 40 = 463.33 → 4.6333/unit; 3 units → 13.90, + 2.50 steel.
        self.assertEqual(row.planned_standard_cost, 463.33)
        self.assertEqual(row.scrap_cost, 16.40)
        self.assertAlmostEqual(row.duration_expected, 354.5)
        self.assertAlmostEqual(row.duration_actual, 435.0)
        self.assertAlmostEqual(row.labour_hours, 6.4)
        self.assertAlmostEqual(row.machine_hours, 5.9)
        self.assertAlmostEqual(row.labour_hours_per_unit, 6.4 / 97, places=6)
        self.assertAlmostEqual(row.setup_standard, 15.0)
        self.assertAlmostEqual(row.setup_actual, 17.0)

        steel, bolt = (
            row.line_ids.filtered(lambda line, p=p: line.product_id == p)
            for p in (self.product_steel, self.product_bolt)
        )
        self.assertEqual(steel.uom_id, self.uom_kg)
        self.assertAlmostEqual(steel.bom_qty_per_unit, 0.5)
        self.assertAlmostEqual(steel.actual_qty_per_unit, 52 / 97, places=6)
        self.assertAlmostEqual(steel.qty_expected, 48.5)
        self.assertAlmostEqual(steel.qty_consumed, 52.0)
        self.assertAlmostEqual(steel.qty_scrapped, 1.0)
        self.assertEqual((steel.cost_standard, steel.cost_actual, steel.cost_scrap), (121.25, 130.00, 2.50))
        self.assertEqual(steel.variance_amount, 11.25)
        self.assertAlmostEqual(bolt.actual_qty_per_unit, 400 / 97, places=6)
        self.assertEqual((bolt.cost_standard, bolt.cost_actual), (38.80, 40.00))
        # The MO total is the sum of what its rows show.
        workorder_rows = production.shopfloor_cost_variance_ids - row
        self.assertEqual(row.cost_operations_actual, round(sum(workorder_rows.mapped("cost_actual")), 2))
        self.assertEqual(row.cost_material_actual, round(sum(row.line_ids.mapped("cost_actual")), 2))

    def test_figures_link_to_source_records(self):
        production = self.run_worked_example()
        row = production.shopfloor_cost_variance_id
        logs = self.env["mrp.workcenter.productivity"].search(row.action_open_time_logs()["domain"])
        self.assertEqual(sum(logs.mapped("duration")), row.duration_actual)
        moves = self.env["stock.move"].search(row.action_open_moves()["domain"])
        self.assertEqual(moves, production.move_raw_ids)
        scraps = self.env["stock.scrap"].search(row.action_open_scraps()["domain"])
        self.assertEqual(
            sum(scraps.filtered(lambda s: s.product_id == self.product_bracket).mapped("scrap_qty")), row.qty_scrap
        )

    def test_refresh_is_idempotent_and_follows_changes(self):
        production = self.run_worked_example()
        rows = production.shopfloor_cost_variance_ids
        self.refresh(production)
        self.assertEqual(production.shopfloor_cost_variance_ids, rows, "a refresh updates rows in place")
        cutting_wo = self.workorder_of(production, "Cutting")
        # Ten more productive minutes on the press: +10.00 actual.
        self.log(cutting_wo, self.loss_productive, self.at(minutes=300), self.at(minutes=310))
        self.refresh(production)
        self.assertEqual(self.variance_of(production, "Cutting").cost_actual, 185.00)
        self.assertEqual(production.shopfloor_cost_variance_id.cost_actual, 530.83)

    def test_currency_rounding(self):
        """Money is rounded to the company currency per line; totals add the rounded lines."""
        self.wc_press1.costs_hour = 33.33
        production = self._make_mo(1)
        cutting = self.workorder_of(production, "Cutting")
        production.qty_producing = 1
        production._set_qty_producing()
        self.log(cutting, self.loss_productive, self.at(minutes=0), self.at(minutes=7))
        cutting.with_context(bypass_duration_calculation=True).write({"state": "done", "qty_produced": 1})
        self.refresh(production)
        row = self.variance_of(production, "Cutting")
        self.assertEqual(row.cost_actual, 3.89)  # 7/60 x 33.33 = 3.8885
        # Standard: 15 + 1.5 = 16.5 min x 33.33/h = 9.16575 → 9.17
        self.assertEqual(row.cost_standard, 9.17)
        self.assertEqual(row.variance_amount, -5.28)
        total = production.shopfloor_cost_variance_id
        rounding = self.company.currency_id.rounding
        for name in ("cost_standard", "cost_actual", "variance_amount", "cost_material_standard"):
            value = total[name]
            self.assertAlmostEqual(value, round(value / rounding) * rounding, places=9, msg=name)
        # Material at standard: 0.5 kg x 2.50 + 4 x 0.10 = 1.65
        self.assertEqual(total.cost_material_standard, 1.65)

    def test_uom_conversion_grams_against_kilograms(self):
        """A BOM line in grams for a component priced per kg, consumed in grams."""
        bom = self.env["mrp.bom"].create(
            {
                "product_tmpl_id": self.product_bracket.product_tmpl_id.id,
                "product_qty": 1.0,
                "consumption": "flexible",
                "bom_line_ids": [
                    (
                        0,
                        0,
                        {"product_id": self.product_steel.id, "product_qty": 500, "product_uom_id": self.uom_gram.id},
                    )
                ],
            }
        )
        production = self.env["mrp.production"].create(
            {
                "product_id": self.product_bracket.id,
                "bom_id": bom.id,
                "product_qty": 10,
            }
        )
        production.action_confirm()
        production.qty_producing = 10
        production._set_qty_producing()
        steel_move = production.move_raw_ids
        self.assertEqual(steel_move.product_uom, self.uom_gram)
        steel_move.write({"quantity": 5200, "picked": True})  # 5.2 kg
        self.refresh(production)
        row = production.shopfloor_cost_variance_id
        [line] = row.line_ids
        self.assertEqual(line.uom_id, self.uom_kg)
        self.assertAlmostEqual(line.bom_qty_per_unit, 0.5)
        self.assertAlmostEqual(line.qty_consumed, 5.2)
        self.assertAlmostEqual(line.actual_qty_per_unit, 0.52)
        self.assertAlmostEqual(line.qty_variance_pct, 4.0)
        self.assertEqual(line.cost_standard, 12.50)
        self.assertEqual(line.cost_actual, 13.00)
        self.assertEqual(row.variance_amount, 0.50)

    def test_production_without_routing(self):
        bom = self.env["mrp.bom"].create(
            {
                "product_tmpl_id": self.product_bracket.product_tmpl_id.id,
                "product_qty": 2.0,
                "consumption": "flexible",
                "bom_line_ids": [(0, 0, {"product_id": self.product_bolt.id, "product_qty": 6})],
            }
        )
        production = self.env["mrp.production"].create(
            {
                "product_id": self.product_bracket.id,
                "bom_id": bom.id,
                "product_qty": 20,
            }
        )
        production.action_confirm()
        self.assertFalse(production.workorder_ids)
        production.qty_producing = 20
        production._set_qty_producing()
        production.move_raw_ids.write({"quantity": 66, "picked": True})
        self.refresh(production)
        rows = production.shopfloor_cost_variance_ids
        self.assertEqual(len(rows), 1, "no work order, no work order row")
        self.assertEqual(rows.cost_operations_actual, 0.0)
        self.assertAlmostEqual(rows.duration_actual, 0.0)
        self.assertAlmostEqual(rows.labour_hours_per_unit, 0.0)
        # 3 bolts per unit (6 per BOM of 2): 60 x 0.10 = 6.00 standard, 66 x 0.10 = 6.60 actual.
        self.assertEqual((rows.cost_standard, rows.cost_actual, rows.variance_amount), (6.00, 6.60, 0.60))
        self.assertAlmostEqual(rows.variance_pct, 10.0)

    def test_cancelled_midway(self):
        production = self._make_mo(100)
        cutting = self.workorder_of(production, "Cutting")
        self.log(cutting, self.loss_productive, self.at(minutes=0), self.at(minutes=30))
        steel = production.move_raw_ids.filtered(lambda m: m.product_id == self.product_steel)
        steel.write({"quantity": 10, "picked": True})
        self.refresh(production)
        self.assertEqual(production.shopfloor_cost_variance_id.cost_material_actual, 25.00)
        production.action_cancel()
        row = production.shopfloor_cost_variance_id
        self.assertEqual(row.state, "cancel", "cancelling refreshes the figures")
        # Nothing was produced and the component moves are cancelled: only the
        # 30 press minutes remain, all of it a loss.
        self.assertEqual(row.qty_good, 0.0)
        self.assertEqual(row.cost_material_actual, 0.0)
        self.assertEqual(row.cost_standard, 0.0)
        self.assertEqual(row.cost_actual, 30.00)
        self.assertEqual(row.variance_amount, 30.00)
        self.assertFalse(row.flagged)
        self.assertEqual(self.variance_of(production, "Cutting").state, "cancel")


@tagged("post_install", "-at_install")
class TestCostThresholds(CostFixtures, ShopfloorCase):
    def test_running_order_above_threshold_is_flagged_and_notified(self):
        category = self.env["product.category"].create(
            {
                "name": "Brackets",
                "shopfloor_cost_variance_threshold": 10.0,
            }
        )
        self.product_bracket.categ_id = category
        responsible = self.env["res.users"].create({"name": "Planner", "login": "cost-planner"})
        production = self.run_worked_example(before_refresh=lambda mo: setattr(mo, "user_id", responsible))
        self.assertEqual(production.state, "to_close")
        row = production.shopfloor_cost_variance_id
        self.assertTrue(row.flagged)
        self.assertIn("cost variance 15.77 % > 10.00 %", row.flag_reason)
        self.assertTrue(production.shopfloor_cost_flagged)
        activity = production.activity_ids.filtered(lambda a: a.summary == "Cost variance above threshold")
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, responsible)
        # Refreshing again does not pile up activities.
        self.refresh(production)
        self.assertEqual(
            len(production.activity_ids.filtered(lambda a: a.summary == "Cost variance above threshold")), 1
        )
        # A looser threshold: back within it, the flag goes.
        category.shopfloor_cost_variance_threshold = 20.0
        self.refresh(production)
        self.assertFalse(row.flagged)
        self.assertFalse(production.shopfloor_cost_flagged)

    def test_scrap_and_time_thresholds(self):
        category = self.env["product.category"].create(
            {
                "name": "Brackets",
                "shopfloor_scrap_threshold": 2.5,
                "shopfloor_time_variance_threshold": 25.0,
            }
        )
        self.product_bracket.categ_id = category
        production = self.run_worked_example()
        row = production.shopfloor_cost_variance_id
        self.assertTrue(row.flagged)
        self.assertIn("scrap 3.00 % > 2.50 %", row.flag_reason)
        self.assertNotIn("time variance", row.flag_reason, "22.71 % is within 25 %")

    def test_no_output_yet_is_not_judged(self):
        category = self.env["product.category"].create({"name": "Brackets", "shopfloor_cost_variance_threshold": 1.0})
        self.product_bracket.categ_id = category
        production = self._make_mo(100)
        cutting = self.workorder_of(production, "Cutting")
        cutting.button_start()
        self.log(cutting, self.loss_productive, self.at(minutes=0), self.at(minutes=20))
        self.refresh(production)
        self.assertEqual(production.state, "progress")
        self.assertFalse(
            production.shopfloor_cost_variance_id.flagged,
            "20 minutes without output are not yet a variance: 20.00 < 463.33 planned",
        )
        # Once the actual cost passes the whole planned standard, it is judged.
        self.log(cutting, self.loss_productive, self.at(minutes=30), self.at(minutes=30) + timedelta(hours=8))
        self.refresh(production)
        self.assertTrue(production.shopfloor_cost_variance_id.flagged)

    def test_done_order_is_not_flagged(self):
        category = self.env["product.category"].create({"name": "Brackets", "shopfloor_cost_variance_threshold": 1.0})
        self.product_bracket.categ_id = category
        production = self.run_worked_example(finish=True)
        self.assertEqual(production.state, "done")
        self.assertFalse(production.shopfloor_cost_variance_id.flagged)


@tagged("post_install", "-at_install")
class TestCostThroughIngest(CostFixtures, ShopfloorCase):
    """The same kind of run, driven by CloudEvents through ``ingest`` and the
    handlers: the figures are refreshed by the apply hook, event by event.

    Timeline (minutes from 08:00 UTC): Cutting on the press: setup 0-12, work
    12-60, breakdown 60-80, work 80-170, completed 98 good + 2 scrap, teardown
    170-175. Assembly: work 120-160, material wait 160-168, work 168-350,
    completed 98 (closes the MO). 52 kg steel and 400 bolts consumed, 1 kg
    steel scrapped. On completion Odoo's own split turns time past the WO's
    expected duration into "Reduced Speed": Cutting expects 15 + 98 x 1.5 =
    162 min, had 170 at completion → 8 min performance; Assembly expects
    196, had 230 → 34 min performance.
    """

    PRESS = "plant1/line1/press-01"
    ASSEMBLY = "plant1/line1/assembly-01"

    def send(self, minutes, type, data, source=PRESS):
        result, event = self.ingest_one(self.make_event(type, data, source=source, time=self.at(minutes)))
        self.assertEqual(result["status"], "applied", (type, minutes, result, event.error_message))
        return event

    def run_through_ingest(self, production, after=None, after_each=None, batch=False):
        """The worked example's events for ``production``, one ingest call each,
        or all in one call with ``batch`` (then ``after``/``after_each`` are not run)."""
        after = after or {}
        cut = {"order": production.name, "operation": "Cutting"}
        assy = {"order": production.name, "operation": "Assembly"}
        steps = [
            (0, "setup.started", cut, self.PRESS),
            (12, "setup.ended", cut, self.PRESS),
            (12, "workorder.started", cut, self.PRESS),
            (60, "downtime.started", dict(cut, reason_code="BRK", downtime_id="d1"), self.PRESS),
            (80, "downtime.ended", dict(cut, reason_code="BRK", downtime_id="d1"), self.PRESS),
            (80, "workorder.resumed", cut, self.PRESS),
            (120, "workorder.started", assy, self.ASSEMBLY),
            (
                150,
                "material.consumed",
                {"order": production.name, "material": "STEEL-2MM", "qty": 52, "uom": "KG"},
                self.PRESS,
            ),
            (160, "downtime.started", dict(assy, reason_code="MAT", downtime_id="d2"), self.ASSEMBLY),
            (168, "downtime.ended", dict(assy, reason_code="MAT", downtime_id="d2"), self.ASSEMBLY),
            (168, "workorder.resumed", assy, self.ASSEMBLY),
            (170, "workorder.completed", dict(cut, qty_good=98, qty_scrap=2), self.PRESS),
            (170, "teardown.started", cut, self.PRESS),
            (175, "teardown.ended", cut, self.PRESS),
            (
                200,
                "material.consumed",
                {"order": production.name, "material": "M8", "qty": 400, "uom": "PCS"},
                self.ASSEMBLY,
            ),
            (
                210,
                "scrap.reported",
                {"order": production.name, "material": "STEEL-2MM", "qty": 1, "uom": "KG"},
                self.ASSEMBLY,
            ),
            (350, "workorder.completed", dict(assy, qty_good=98), self.ASSEMBLY),
        ]
        if batch:
            results = self.ingest(
                *(
                    self.make_event(type, data, source=source, time=self.at(minutes))
                    for minutes, type, data, source in steps
                )
            )
            self.assertEqual([result["status"] for result in results], ["applied"] * len(steps), results)
            return production
        for minutes, type, data, source in steps:
            self.send(minutes, type, data, source=source)
            if (minutes, type) in after:
                after[(minutes, type)](production)
            if after_each:
                after_each(production, (minutes, type))
        return production

    def stored_variance(self, production):
        """Every stored figure of the MO's variance rows and component lines, as
        read back from the database, keyed by work order and component."""
        self.env.flush_all()
        self.env.invalidate_all()
        skipped = {
            "id",
            "create_uid",
            "create_date",
            "write_uid",
            "write_date",
            "variance_id",
            # A flag is history: it stays on an order that closed above its
            # threshold, which a first computation of a closed order cannot know.
            "flagged",
            "flag_reason",
        }

        def figures(record):
            return {
                name: record[name].id if field.type == "many2one" else record[name]
                for name, field in record._fields.items()
                if field.store and field.column_type and name not in skipped
            }

        rows = {}
        for row in production.shopfloor_cost_variance_ids:
            rows[row.workorder_id.name or "MO"] = figures(row)
            for line in row.line_ids:
                rows[(row.workorder_id.name or "MO", line.product_id.default_code)] = figures(line)
        return rows

    def from_scratch(self, production):
        """The figures computed anew, with no earlier row to update, in a
        savepoint rolled back so the event-by-event refresh goes on untouched."""
        self.env.flush_all()
        self.env.cr.execute("SAVEPOINT cost_from_scratch")
        try:
            production.shopfloor_cost_variance_ids.unlink()
            self.refresh(production)
            return self.stored_variance(production)
        finally:
            self.env.flush_all()
            self.env.cr.execute("ROLLBACK TO SAVEPOINT cost_from_scratch")
            self.env.invalidate_all()

    def test_worked_example_through_ingest(self):
        production = self._make_mo(100)
        seen = {}

        def after_setup(mo):
            seen["setup"] = self.variance_of(mo, "Cutting").setup_actual

        def after_cutting_done(mo):
            seen["cutting"] = self.variance_of(mo, "Cutting").cost_actual

        self.run_through_ingest(
            production,
            after={
                (12, "setup.ended"): after_setup,
                (170, "workorder.completed"): after_cutting_done,
            },
        )
        self.assertEqual(seen["setup"], 12.0, "refreshed by the setup.ended event itself")
        self.assertEqual(seen["cutting"], 170.00, "12 setup + 48 + 20 breakdown + 90 at completion")
        self.assertEqual(production.state, "done")

        cutting = self.variance_of(production, "Cutting")
        self.assertAlmostEqual(cutting.duration_actual, 175.0)
        self.assertAlmostEqual(cutting.duration_expected, 162.0)
        self.assertAlmostEqual(cutting.labour_hours, 2.3)  # 48 + 82 + 8 running minutes
        self.assertAlmostEqual((cutting.setup_standard, cutting.setup_actual), (15.0, 17.0))
        self.assertEqual((cutting.cost_standard, cutting.cost_actual, cutting.variance_amount), (162.00, 175.00, 13.00))
        self.assertEqual(cutting.qty_scrap, 2.0)
        assembly = self.variance_of(production, "Assembly")
        self.assertAlmostEqual(assembly.duration_actual, 230.0)
        self.assertAlmostEqual(assembly.labour_hours, 3.7)
        self.assertEqual((assembly.cost_standard, assembly.cost_actual), (130.67, 153.33))

        row = production.shopfloor_cost_variance_id
        self.assertEqual((row.qty_good, row.qty_scrap), (98.0, 2.0))
        self.assertAlmostEqual(row.scrap_pct, 2.0)
        self.assertEqual(row.cost_material_standard, 161.70)  # 49 kg x 2.50 + 392 x 0.10
        self.assertEqual(row.cost_material_actual, 170.00)
        self.assertEqual(row.cost_component_scrap, 2.50)
        self.assertEqual(row.cost_standard, 454.37)
        self.assertEqual(row.cost_actual, 500.83)
        self.assertEqual(row.variance_amount, 46.46)
        self.assertAlmostEqual(row.variance_pct, 46.46 / 454.37 * 100, places=2)
        self.assertEqual(row.scrap_cost, 11.77)  # 2 x 463.33/100 = 9.27, + 2.50 steel

        # OEE of the press that day, from the logs the events wrote.
        self.env.flush_all()
        [press] = self.env["shopfloor.oee.report"].compute_oee(self.wc_press1.ids, self.at(0).date(), self.at(0).date())
        self.assertAlmostEqual(press["loaded_minutes"], 175.0)
        self.assertAlmostEqual(press["availability_minutes"], 37.0)
        self.assertAlmostEqual(press["performance_minutes"], 8.0)
        self.assertAlmostEqual(press["oee"], 130 / 175 * 100)
        pareto = self.env["shopfloor.downtime.report"].compute_pareto(
            [("workcenter_id", "in", (self.wc_press1 | self.wc_assembly1).ids), ("date", "=", self.at(0).date())]
        )
        self.assertEqual(
            [(self.env["mrp.workcenter.productivity.loss"].browse(r["loss_id"]).name, r["minutes"]) for r in pareto],
            [
                ("Reduced Speed", 42.0),
                ("Equipment Failure", 20.0),
                ("Setup and Adjustments", 17.0),
                ("Material Availability", 8.0),
            ],
        )

    def test_refreshed_after_each_event_equals_from_scratch(self):
        """A refresh updates the rows the previous event left, writing only the
        figures that changed: after every event of a mixed run (setup,
        downtime, consumption in two materials, completion with scrap, scrap,
        teardown, closing) the stored figures equal a computation from scratch."""
        category = self.env["product.category"].create({"name": "Brackets", "shopfloor_cost_variance_threshold": 4.0})
        self.product_bracket.categ_id = category
        production = self._make_mo(100)
        checked = []

        def compare(mo, step):
            incremental = self.stored_variance(mo)
            self.assertTrue(incremental, step)
            self.assertEqual(incremental, self.from_scratch(mo), step)
            self.assertEqual(self.stored_variance(mo), incremental, "the comparison left the rows as they were")
            checked.append(step)

        self.run_through_ingest(production, after_each=compare)
        self.assertEqual(len(checked), 17)
        self.assertEqual(production.state, "done")
        self.assertEqual(production.shopfloor_cost_variance_id.cost_actual, 500.83, "the worked example's figure")

    def test_one_batch_refreshes_each_order_once_to_the_event_by_event_figures(self):
        """The cost hook runs once per batch over the orders its events touched:
        after the whole worked example in one ingest call the stored figures
        equal a computation from scratch, which the event-by-event run equals
        after every event (test_refreshed_after_each_event_equals_from_scratch)."""
        category = self.env["product.category"].create({"name": "Brackets", "shopfloor_cost_variance_threshold": 4.0})
        self.product_bracket.categ_id = category
        variance = self.env.registry["shopfloor.cost.variance"]
        refreshed = []
        original = variance._refresh_for_productions

        def counting(model, productions):
            refreshed.append(productions.ids)
            return original(model, productions)

        production = self._make_mo(100)
        with patch.object(variance, "_refresh_for_productions", counting):
            self.run_through_ingest(production, batch=True)
        self.assertEqual(production.state, "done")
        self.assertIn([production.id], refreshed)
        self.assertLessEqual(len(refreshed), 2, "once for the batch (and once when the order closed)")
        self.assertEqual(self.stored_variance(production), self.from_scratch(production))
        self.assertEqual(production.shopfloor_cost_variance_id.cost_actual, 500.83, "the worked example's figure")

    def test_refresh_after_one_event_reads_each_kind_of_record_once(self):
        """The deterministic cost of the refresh on the ingest path: a fixed
        number of queries, however many logs, moves and scraps the order has."""
        production = self._make_mo(100)
        cut = {"order": production.name, "operation": "Cutting"}
        self.send(0, "setup.started", cut)
        self.send(12, "setup.ended", cut)
        self.send(12, "workorder.started", cut)
        self.send(60, "downtime.started", dict(cut, reason_code="BRK", downtime_id="d1"))
        self.send(80, "downtime.ended", dict(cut, reason_code="BRK", downtime_id="d1"))
        self.send(80, "workorder.resumed", cut)
        self.send(150, "material.consumed", {"order": production.name, "material": "STEEL-2MM", "qty": 52, "uom": "KG"})
        self.send(160, "scrap.reported", {"order": production.name, "material": "STEEL-2MM", "qty": 1, "uom": "KG"})
        variance = self.env["shopfloor.cost.variance"]
        self.env.invalidate_all()
        # Inputs: MO, work orders, time logs, raw moves, scraps; the variance
        # rows and lines; units, standard prices. Nothing changed: no UPDATE.
        with self.assertQueryCount(9):
            variance._refresh_for_productions(production)
        cutting = self.variance_of(production, "Cutting")
        # 12 setup + 48 work + 20 breakdown; the open log since 80 counts once closed.
        self.assertAlmostEqual(cutting.duration_actual, 80.0)
        self.log(self.workorder_of(production, "Cutting"), self.loss_productive, self.at(170), self.at(180))
        self.env.flush_all()
        self.env.invalidate_all()
        # The same and one UPDATE for the rows that changed (MO and Cutting).
        with self.assertQueryCount(10):
            variance._refresh_for_productions(production)
        self.assertEqual(production.state, "progress")
        self.assertAlmostEqual(cutting.duration_actual, 90.0)

    def test_running_order_flagged_by_an_event(self):
        category = self.env["product.category"].create({"name": "Brackets", "shopfloor_cost_variance_threshold": 4.0})
        self.product_bracket.categ_id = category
        production = self._make_mo(100)
        flags = {}

        def after_cutting_done(mo):
            flags["row"] = mo.shopfloor_cost_variance_id.flagged
            flags["state"] = mo.state
            flags["activities"] = len(mo.activity_ids.filtered(lambda a: a.summary == "Cost variance above threshold"))

        self.run_through_ingest(production, after={(170, "workorder.completed"): after_cutting_done})
        self.assertEqual(flags, {"row": True, "state": "progress", "activities": 1})

    def test_consumption_in_grams(self):
        production = self.mo2
        self.send(5, "material.consumed", {"order": production.name, "material": "STEEL-2MM", "qty": 1500, "uom": "g"})
        row = production.shopfloor_cost_variance_id
        steel = row.line_ids.filtered(lambda line: line.product_id == self.product_steel)
        self.assertAlmostEqual(steel.qty_consumed, 1.5)  # kg, the unit of the standard price
        self.assertEqual(steel.cost_actual, 3.75)

    def test_realtime_switch_off_keeps_ingest_free_of_cost_work(self):
        self.env["ir.config_parameter"].set_param("shopfloor_bridge.cost_realtime", "0")
        self.send(5, "workorder.started", {"order": self.mo2.name, "operation": "Cutting"})
        self.assertFalse(self.mo2.shopfloor_cost_variance_ids)
        self.env["ir.config_parameter"].set_param("shopfloor_bridge.cost_realtime", "1")
        self.send(6, "workorder.paused", {"order": self.mo2.name, "operation": "Cutting"})
        self.assertTrue(self.mo2.shopfloor_cost_variance_id)

    def test_events_without_cost_effect_do_not_refresh(self):
        self.send(5, "quality.result", {"order": self.mo2.name, "characteristic": "width", "pass": True})
        self.assertFalse(self.mo2.shopfloor_cost_variance_ids)


@tagged("post_install", "-at_install")
class TestCostViews(CostFixtures, ShopfloorCase):
    def test_mo_form_shows_variance_to_shop_floor_users_only(self):
        production = self.run_worked_example()
        mrp_only = self.env["res.users"].create(
            {
                "name": "MRP user",
                "login": "cost-mrp-user",
                "groups_id": [(6, 0, [self.env.ref("mrp.group_mrp_user").id])],
            }
        )
        floor_user = self.env["res.users"].create(
            {
                "name": "Floor user",
                "login": "cost-floor-user",
                "groups_id": [
                    (
                        6,
                        0,
                        [
                            self.env.ref("mrp.group_mrp_user").id,
                            self.env.ref("shopfloor_bridge.shopfloor_bridge_group_user").id,
                        ],
                    )
                ],
            }
        )
        form = self.env.ref("mrp.mrp_production_form_view").id
        arch = self.env["mrp.production"].with_user(mrp_only).get_view(form, "form")["arch"]
        self.assertNotIn("shopfloor_cost_variance", arch)
        arch = self.env["mrp.production"].with_user(floor_user).get_view(form, "form")["arch"]
        self.assertIn("shopfloor_cost_variance_ids", arch)
        rows = production.with_user(floor_user).shopfloor_cost_variance_ids
        self.assertEqual(rows.mapped("level"), ["production", "workorder", "workorder"])
        self.assertEqual(rows[0].line_ids.product_id, self.product_steel | self.product_bolt)
