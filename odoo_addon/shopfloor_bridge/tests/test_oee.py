"""Workcenter OEE and downtime Pareto on the worked example's time logs.

Press 01 that Monday: 175 logged minutes = 122 productive + 10 reduced speed
(performance) + 6 process defect (quality) + 37 availability (12 setup, 20
breakdown, 5 teardown). Assembly 01: 252 productive (two operators) + 8
material wait. The calendar gives 480 working minutes on a Monday.
"""

from odoo.tests import tagged

from .common import ShopfloorCase
from .test_cost import CostFixtures


@tagged("post_install", "-at_install")
class TestOee(CostFixtures, ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Only this class's logs in the reports: other fixtures log nothing on these days.
        cls.day = cls.at(0).date()

    def oee(self, workcenter):
        self.env.flush_all()
        [row] = self.env["shopfloor.oee.report"].compute_oee(workcenter.ids, self.day, self.day)
        return row

    def test_oee_cascade_on_loss_categories(self):
        self.run_worked_example()
        press = self.oee(self.wc_press1)
        self.assertAlmostEqual(press["loaded_minutes"], 175.0)
        self.assertAlmostEqual(press["productive_minutes"], 122.0)
        self.assertAlmostEqual(press["performance_minutes"], 10.0)
        self.assertAlmostEqual(press["quality_minutes"], 6.0)
        self.assertAlmostEqual(press["availability_minutes"], 37.0)
        self.assertAlmostEqual(press["availability"], 138 / 175 * 100)  # 78.857 %
        self.assertAlmostEqual(press["performance"], 128 / 138 * 100)  # 92.754 %
        self.assertAlmostEqual(press["quality"], 122 / 128 * 100)  # 95.313 %
        self.assertAlmostEqual(press["oee"], 122 / 175 * 100)  # 69.714 %
        self.assertAlmostEqual(press["oee"], press["availability"] * press["performance"] * press["quality"] / 1e4)
        calendar_minutes = press["available_minutes"]
        self.assertEqual(calendar_minutes, 480.0, "Monday in the standard 40 h calendar")
        self.assertAlmostEqual(press["utilisation"], 138 / 480 * 100)  # 28.75 %

        assembly = self.oee(self.wc_assembly1)
        self.assertAlmostEqual(assembly["availability"], 252 / 260 * 100)
        self.assertAlmostEqual(assembly["performance"], 100.0)
        self.assertAlmostEqual(assembly["quality"], 100.0)
        self.assertAlmostEqual(assembly["oee"], 252 / 260 * 100)
        self.assertAlmostEqual(assembly["utilisation"], 252 / 480 * 100)

    def test_oee_matches_odoo_own_definition(self):
        """Odoo's mrp.workcenter.oee is productive / (productive + blocked) over
        the same logs: our OEE is the same number."""
        self.run_worked_example()
        logs = self.time_logs(workcenter=self.wc_press1)
        productive = sum(logs.filtered(lambda log: log.loss_type == "productive").mapped("duration"))
        blocked = sum(logs.filtered(lambda log: log.loss_type != "productive").mapped("duration"))
        self.assertAlmostEqual(self.oee(self.wc_press1)["oee"], productive * 100 / (productive + blocked))

    def test_pivot_groups_recompute_ratios_from_minutes(self):
        """A group's OEE is that of its summed minutes, not an average of rows."""
        self.run_worked_example()
        self.env.flush_all()
        report = self.env["shopfloor.oee.report"]
        domain = [("workcenter_id", "in", (self.wc_press1 | self.wc_assembly1).ids), ("date", "=", self.day)]
        [group] = report.read_group(domain, ["oee", "availability", "loaded_minutes"], [], lazy=False)
        self.assertAlmostEqual(group["loaded_minutes"], 435.0)
        self.assertAlmostEqual(group["oee"], (122 + 252) / 435 * 100)
        self.assertAlmostEqual(group["availability"], (138 + 252) / 435 * 100)
        rows = report.search(domain)
        self.assertEqual(len(rows), 2)
        self.assertAlmostEqual(rows.filtered(lambda r: r.workcenter_id == self.wc_press1).oee, 122 / 175 * 100)

    def test_downtime_pareto(self):
        self.run_worked_example()
        self.env.flush_all()
        domain = [("workcenter_id", "in", (self.wc_press1 | self.wc_assembly1).ids), ("date", "=", self.day)]
        pareto = self.env["shopfloor.downtime.report"].compute_pareto(domain)
        losses = self.env["mrp.workcenter.productivity.loss"].browse([row["loss_id"] for row in pareto])
        self.assertEqual(
            losses.mapped("name"),
            [
                "Equipment Failure",
                "Setup and Adjustments",
                "Reduced Speed",
                "Material Availability",
                "Process Defect",
            ],
        )
        self.assertEqual([row["minutes"] for row in pareto], [20.0, 17.0, 10.0, 8.0, 6.0])
        self.assertEqual([row["occurrences"] for row in pareto], [1, 2, 1, 1, 1])
        total = 61.0
        self.assertAlmostEqual(pareto[0]["share_pct"], 20 / total * 100)
        self.assertAlmostEqual(pareto[1]["cumulative_pct"], 37 / total * 100)
        self.assertAlmostEqual(pareto[3]["cumulative_pct"], 55 / total * 100)
        self.assertAlmostEqual(pareto[-1]["cumulative_pct"], 100.0)

    def test_open_log_and_other_days_are_left_out(self):
        self.run_worked_example()
        production = self._make_mo(10)
        cutting = self.workorder_of(production, "Cutting")
        # Still open (no end): no duration yet, not in the figures.
        self.log(cutting, self.loss_breakdown, self.at(200), False)
        # Next day: another period.
        self.log(cutting, self.loss_productive, self.at(24 * 60), self.at(24 * 60 + 30))
        self.assertAlmostEqual(self.oee(self.wc_press1)["loaded_minutes"], 175.0)

    def test_a_row_keeps_its_id_when_other_work_centers_and_days_appear(self):
        """Regression (the access matrix read another company's row by a fixture's id):
        the view numbered its rows, so a work center or an earlier day added later
        shifted every id after it. A row's id is now its work center and day."""
        self.run_worked_example()
        self.env.flush_all()
        report = self.env["shopfloor.oee.report"]
        row = report.search([("workcenter_id", "=", self.wc_press1.id), ("date", "=", self.day)])
        self.assertEqual(len(row), 1)
        first_id, minutes = row.id, row.loaded_minutes
        newcomer = self.wc_press1.copy({"name": "Press 00 (added later)"})
        self.env["mrp.workcenter.productivity"].create(
            {
                "workcenter_id": newcomer.id,
                "loss_id": self.loss_productive.id,
                "date_start": self.at(-3 * 24 * 60),
                "date_end": self.at(-3 * 24 * 60 + 30),
            }
        )
        self.env.flush_all()
        self.env.invalidate_all()
        same = report.browse(first_id)
        self.assertEqual((same.workcenter_id, same.date, same.loaded_minutes), (self.wc_press1, self.day, minutes))

    def test_views_group_by_period_as_the_web_client_does(self):
        """The pivot/graph/list calls: grouped by work center and week, by reason."""
        self.run_worked_example()
        self.env.flush_all()
        domain = [("workcenter_id", "=", self.wc_press1.id)]
        result = self.env["shopfloor.oee.report"].web_read_group(
            domain, ["oee:avg", "availability:avg", "loaded_minutes:sum"], ["workcenter_id", "date:week"], lazy=False
        )
        [group] = [g for g in result["groups"] if g["loaded_minutes"]]
        self.assertAlmostEqual(group["oee"], 122 / 175 * 100)
        downtime = self.env["shopfloor.downtime.report"].web_read_group(
            domain, ["duration:sum", "share_pct:avg", "cumulative_pct:avg"], ["loss_id"]
        )
        self.assertEqual([g["duration"] for g in downtime["groups"]], [20.0, 17.0, 10.0, 6.0])
        self.assertAlmostEqual(downtime["groups"][-1]["cumulative_pct"], 100.0)
