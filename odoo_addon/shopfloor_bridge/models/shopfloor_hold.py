from odoo import _, api, fields, models
from odoo.exceptions import UserError


class ShopfloorHold(models.Model):
    """A quality hold: while active, the held MO / WO / workcenter cannot be
    started, finished or marked done, from the UI, over RPC or by an event."""

    _name = "shopfloor.hold"
    _description = "Shop Floor Quality Hold"
    _inherit = ["mail.thread"]
    _order = "state, date_start desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    state = fields.Selection(
        [("active", "Active"), ("released", "Released")],
        default="active",
        required=True,
        index=True,
        tracking=True,
    )
    production_id = fields.Many2one("mrp.production", string="Manufacturing Order", index=True, ondelete="cascade")
    workorder_id = fields.Many2one(
        "mrp.workorder",
        string="Work Order",
        index=True,
        ondelete="cascade",
        domain="[('production_id', '=', production_id)]",
        help="Empty: the whole manufacturing order is held.",
    )
    workcenter_id = fields.Many2one(
        "mrp.workcenter",
        string="Work Center",
        index=True,
        help="A hold on a workcenter without an order blocks every work order there.",
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    reason = fields.Text(required=True, tracking=True)
    reason_code = fields.Char(help="The floor's reason code, as sent.")
    hold_ref = fields.Char(string="Floor hold id", index=True, help="The floor's hold_id, used to match the release.")
    date_start = fields.Datetime(string="Held since", required=True, default=fields.Datetime.now)
    date_release = fields.Datetime(string="Released at", tracking=True)
    released_by_id = fields.Many2one("res.users", readonly=True)
    hold_event_id = fields.Many2one("shopfloor.event", string="Hold event", readonly=True, ondelete="set null")
    release_event_id = fields.Many2one("shopfloor.event", string="Release event", readonly=True, ondelete="set null")
    quality_result_id = fields.Many2one("shopfloor.quality.result", readonly=True, ondelete="set null")

    _sql_constraints = [
        (
            "target_required",
            "check(production_id is not null or workcenter_id is not null)",
            "A hold needs a manufacturing order or a work center.",
        ),
    ]

    @api.depends("production_id", "workorder_id", "workcenter_id")
    def _compute_name(self):
        for hold in self:
            target = hold.workorder_id.display_name or hold.production_id.name or hold.workcenter_id.name or ""
            hold.name = _("Hold on %(target)s", target=target)

    @api.onchange("workorder_id")
    def _onchange_workorder_id(self):
        if self.workorder_id:
            self.production_id = self.workorder_id.production_id

    # ------------------------------------------------------------------ queries

    @api.model
    def _active_domain_for_workorders(self, workorders):
        """Holds that block these work orders: on their MO (whole or this WO) or on their workcenter."""
        return [
            ("state", "=", "active"),
            "|",
            "&",
            ("production_id", "in", workorders.production_id.ids),
            "|",
            ("workorder_id", "=", False),
            ("workorder_id", "in", workorders.ids),
            "&",
            ("production_id", "=", False),
            ("workcenter_id", "in", workorders.workcenter_id.ids),
        ]

    @api.model
    def _active_for_workorders(self, workorders):
        if not workorders:
            return self.browse()
        holds = self.sudo().search(self._active_domain_for_workorders(workorders))
        # A WO-level hold of the same MO blocks only that WO.
        return holds.filtered(
            lambda hold: not hold.workorder_id or hold.workorder_id in workorders or not hold.production_id
        )

    @api.model
    def _active_for_productions(self, productions):
        """Holds that block marking these MOs done (which finishes their open WOs)."""
        if not productions:
            return self.browse()
        open_workorders = productions.workorder_ids.filtered(lambda wo: wo.state not in ("done", "cancel"))
        return self.sudo().search(
            [
                ("state", "=", "active"),
                "|",
                ("production_id", "in", productions.ids),
                "&",
                ("production_id", "=", False),
                ("workcenter_id", "in", open_workorders.workcenter_id.ids),
            ]
        )

    def _blocking_message(self, action):
        holds = "; ".join(f"{hold.name}: {hold.reason}" for hold in self)
        return _("Cannot %(action)s: quality hold active (%(holds)s). Release the hold first.", action=action, holds=holds)

    def _raise_if_any(self, action):
        if self:
            raise UserError(self._blocking_message(action))

    # ------------------------------------------------------------------ release

    def action_release(self):
        """Release from the UI: a person's decision, so it happens now."""
        self._release(fields.Datetime.now())
        return True

    def _release(self, when, event=None):
        to_release = self.filtered(lambda hold: hold.state == "active")
        if not to_release:
            return to_release
        to_release.write(
            {
                "state": "released",
                "date_release": when,
                "released_by_id": self.env.user.id,
                "release_event_id": event.id if event else False,
            }
        )
        to_release._wake_events_waiting_on_hold()
        return to_release

    def _wake_events_waiting_on_hold(self):
        """Events parked because of a hold become due now instead of at their backoff time."""
        events = self.env["shopfloor.event"].sudo()
        fields_ = events._fields
        if not {"state", "error_class", "next_retry_at"} <= set(fields_):
            return
        waiting = events.search([("state", "=", "pending"), ("error_class", "=", "hold")])
        waiting.write({"next_retry_at": fields.Datetime.now()})
