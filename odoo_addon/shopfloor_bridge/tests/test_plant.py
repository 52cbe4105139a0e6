from .common import ShopfloorCase


class TestPlant(ShopfloorCase):
    def test_plant_is_ready_for_events(self):
        self.assertEqual(len(self.line1 | self.line2), 2)
        for production in self.mo1 | self.mo2:
            self.assertEqual(production.state, "confirmed")
            self.assertEqual(production.reservation_state, "assigned")
            cutting = self.workorder_of(production, "Cutting")
            assembly = self.workorder_of(production, "Assembly")
            self.assertEqual((cutting.workcenter_id, assembly.workcenter_id), (self.wc_press1, self.wc_assembly1))
            self.assertEqual(cutting.state, "ready")
            self.assertEqual(assembly.state, "pending")
        self.assertEqual(self.product_steel.uom_id, self.uom_kg)
