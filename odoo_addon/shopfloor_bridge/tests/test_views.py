from odoo.tests import Form

from .common import ShopfloorCase


class TestHandlerViews(ShopfloorCase):
    def test_settings_and_equipment_are_editable_in_their_forms(self):
        with Form(self.company) as company:
            company.shopfloor_close_mo_on_last_wo = False
        self.assertFalse(self.company.shopfloor_close_mo_on_last_wo)
        with Form(self.wc_press2) as workcenter:
            workcenter.shopfloor_equipment_id = self.equipment_press1
        self.assertEqual(self.wc_press2.shopfloor_equipment_id, self.equipment_press1)

    def test_mo_form_shows_the_hold_banner(self):
        self.ingest(
            self.make_event("quality.hold", {"order": self.mo1.name, "reason": "Cracks on lot 7"}, time=self.at(1))
        )
        form = Form(self.mo1)
        self.assertEqual(form.shopfloor_active_hold_count, 1)
        self.assertIn("Cracks on lot 7", form.shopfloor_hold_message)
        arch = self.env["mrp.production"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("o_shopfloor_hold_banner", arch)
        action = self.mo1.action_view_shopfloor_holds()
        self.assertEqual(self.env["shopfloor.hold"].search(action["domain"]).reason, "Cracks on lot 7")

    def test_hold_form_creates_and_releases_a_manual_hold(self):
        with Form(self.env["shopfloor.hold"]) as hold_form:
            hold_form.workorder_id = self.workorder_of(self.mo2, "Cutting")
            hold_form.reason = "Wrong die installed"
        hold = hold_form.record
        self.assertEqual(hold.production_id, self.mo2, "onchange fills the order from the work order")
        self.assertEqual(hold.state, "active")
        hold.action_release()
        self.assertEqual(hold.state, "released")
        self.assertTrue(hold.date_release)
