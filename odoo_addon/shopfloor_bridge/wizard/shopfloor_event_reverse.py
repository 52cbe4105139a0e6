"""Reverse (and re-apply) applied events: asks why, then ``shopfloor.event.action_reverse``."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class ShopfloorEventReverse(models.TransientModel):
    _name = "shopfloor.event.reverse"
    _description = "Reverse Shop Floor Events"

    event_ids = fields.Many2many("shopfloor.event", string="Events", readonly=True)
    event_count = fields.Integer(compute="_compute_event_count")
    reason = fields.Text(help="Why: kept in each event's history and in the orders' chatter.")
    reapply = fields.Boolean(
        string="Re-apply after reversing",
        help="Apply the events again at once, under the current mappings (e.g. after fixing a source → work "
        "center mapping).",
    )

    @api.depends("event_ids")
    def _compute_event_count(self):
        for wizard in self:
            wizard.event_count = len(wizard.event_ids)

    @api.model
    def _open_for(self, events):
        """The wizard for ``events`` (the selection of the list or of the event explorer)."""
        if not events:
            raise UserError(_("Select the applied events to reverse."))
        wizard = self.create(
            {"event_ids": [(6, 0, events.ids)], "reapply": self.env.context.get("default_reapply", False)}
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Reverse events"),
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    def action_confirm(self):
        self.ensure_one()
        self.event_ids.action_reverse(self.reason, reapply=self.reapply)
        return {"type": "ir.actions.act_window_close"}
