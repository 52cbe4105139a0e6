"""Genealogy of a finished lot or serial: the component lots consumed into it and the
floor events that booked its orders (a smart button on the lot form)."""

from odoo import _, fields, models


class StockLot(models.Model):
    _inherit = "stock.lot"

    shopfloor_event_count = fields.Integer(
        string="Floor events",
        compute="_compute_shopfloor_event_count",
        groups="shopfloor_bridge.shopfloor_bridge_group_user",
    )

    def _shopfloor_productions(self):
        """The orders that produced this lot, with the orders split from them (a serial order
        closed by mass production keeps the floor's events on the order it was split from)."""
        self.ensure_one()
        productions = self.env["mrp.production"].search([("lot_producing_id", "=", self.id)])
        return productions | productions.procurement_group_id.mrp_production_ids.filtered(
            lambda order: order.product_id == self.product_id
        )

    def _shopfloor_events(self):
        return self.env["shopfloor.event"].search([("production_id", "in", self._shopfloor_productions().ids)])

    def _compute_shopfloor_event_count(self):
        for lot in self:
            lot.shopfloor_event_count = (
                self.env["shopfloor.event"].search_count([("production_id", "in", lot._shopfloor_productions().ids)])
                if lot.id
                else 0
            )

    def _shopfloor_component_lines(self):
        """The done component move lines, with a lot, of the orders that produced this lot."""
        self.ensure_one()
        productions = self.env["mrp.production"].search([("lot_producing_id", "=", self.id)])
        return productions.move_raw_ids.move_line_ids.filtered(lambda line: line.lot_id and line.state == "done")

    def action_shopfloor_genealogy(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Components of %s", self.display_name),
            "res_model": "stock.move.line",
            "views": [(self.env.ref("shopfloor_bridge.view_stock_move_line_genealogy").id, "list")],
            "domain": [("id", "in", self._shopfloor_component_lines().ids)],
            "context": {"create": False},
        }

    def action_shopfloor_events(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Floor events of %s", self.display_name),
            "res_model": "shopfloor.event",
            "view_mode": "list,form",
            "domain": [("id", "in", self._shopfloor_events().ids)],
            "context": {"create": False},
        }
