from odoo import api, fields, models

from .shopfloor_count_owner import refuse_count_field_write


class MrpProduction(models.Model):
    # The module's own fields of the order; cost and dispatch parts live in their files.
    _inherit = "mrp.production"  # pylint: disable=consider-merging-classes-inherited

    shopfloor_hold_ids = fields.One2many("shopfloor.hold", "production_id", string="Quality holds")
    shopfloor_active_hold_count = fields.Integer(compute="_compute_shopfloor_active_hold_count")
    shopfloor_hold_message = fields.Text(compute="_compute_shopfloor_active_hold_count")

    @api.depends("shopfloor_hold_ids.state", "workorder_ids.state")
    def _compute_shopfloor_active_hold_count(self):
        for production in self:
            holds = self.env["shopfloor.hold"]._active_for_productions(production) if production.id else []
            production.shopfloor_active_hold_count = len(holds)
            production.shopfloor_hold_message = "\n".join(f"{hold.name}: {hold.reason}" for hold in holds) or False

    def button_mark_done(self):
        self.env["shopfloor.hold"]._active_for_productions(self)._raise_if_any(
            self.env._("mark the manufacturing order done")
        )
        self._shopfloor_refuse_manual_close()
        still_open = self.filtered(lambda production: production.state not in ("done", "cancel"))
        result = super().button_mark_done()
        still_open._shopfloor_note_manual_close()
        return result

    def write(self, vals):
        refuse_count_field_write(self, vals)
        if "qty_producing" in vals:
            self._shopfloor_refuse_manual_quantity()
        return super().write(vals)

    def action_view_shopfloor_holds(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("shopfloor_bridge.shopfloor_hold_action")
        action["domain"] = [("production_id", "=", self.id)]
        action["context"] = {"default_production_id": self.id, "default_company_id": self.company_id.id}
        return action
