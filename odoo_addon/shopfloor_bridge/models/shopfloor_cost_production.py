from odoo import api, fields, models

from ..field_guard import refuse_protected_write


class MrpProduction(models.Model):
    # The cost engine's part of the order stays with the cost engine.
    _inherit = "mrp.production"  # pylint: disable=consider-merging-classes-inherited

    shopfloor_cost_variance_ids = fields.One2many(
        "shopfloor.cost.variance", "production_id", "Cost Variances", readonly=True
    )
    shopfloor_cost_variance_id = fields.Many2one(
        "shopfloor.cost.variance", "Cost Variance", compute="_compute_shopfloor_cost_variance_id"
    )
    shopfloor_cost_flagged = fields.Boolean(
        "Cost Variance Flag",
        readonly=True,
        copy=False,
        index=True,
        help="Set while the order runs above a cost, time or scrap threshold of its product category.",
    )

    @api.depends("shopfloor_cost_variance_ids")
    def _compute_shopfloor_cost_variance_id(self):
        for production in self:
            production.shopfloor_cost_variance_id = production.shopfloor_cost_variance_ids.filtered(
                lambda row: row.level == "production"
            )[:1]

    def write(self, vals):
        # The flag follows the figures: only the refresh sets or clears it.
        refuse_protected_write(self, vals, {"shopfloor_cost_flagged": "Refresh"})
        return super().write(vals)

    def action_shopfloor_cost_refresh(self):
        variance_model = self.env["shopfloor.cost.variance"]
        variance_model._check_refresh_caller(self)
        variance_model.sudo()._refresh_for_productions(self.sudo())
        return True

    # Orders closed or cancelled from the UI change their figures too (state,
    # cancelled moves, final quantities): refresh them even without an event.
    def action_cancel(self):
        result = super().action_cancel()
        self._shopfloor_cost_refresh_if_tracked()
        return result

    def _post_inventory(self, cancel_backorder=False):
        result = super()._post_inventory(cancel_backorder=cancel_backorder)
        self._shopfloor_cost_refresh_if_tracked()
        return result

    def _shopfloor_cost_refresh_if_tracked(self):
        variance_model = self.env["shopfloor.cost.variance"]
        if not variance_model._is_realtime_enabled():
            return
        tracked = variance_model.sudo().search([("production_id", "in", self.ids), ("level", "=", "production")])
        if tracked:
            variance_model._refresh_for_productions(tracked.production_id)
