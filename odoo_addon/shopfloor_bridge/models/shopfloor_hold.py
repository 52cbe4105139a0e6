from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..field_guard import refuse_protected_write
from .shopfloor_connection import MANAGER_GROUP

# Set by the bridge only (the floor's events, the Release action): a plain
# write by a person or an RPC caller is refused. Field → the action that changes it.
PROTECTED_FIELDS = {
    "state": "Release",
    "company_id": None,
    "connection_id": None,
    "hold_ref": None,
    "production_id": None,
    "workorder_id": None,
    "workcenter_id": None,
    "date_release": "Release",
    "released_by_id": "Release",
    "hold_event_id": None,
    "release_event_id": None,
    "quality_result_id": None,
}
# What a person may set when placing a hold by hand: the target, its company
# (checked by the company rule) and why; never the floor's key or a released state.
SET_ON_MANUAL_CREATE = {"production_id", "workorder_id", "workcenter_id", "company_id"}


class ShopfloorHold(models.Model):
    """A quality hold: while active, the held MO / WO / workcenter cannot be
    started, finished or marked done, from the UI, over RPC or by an event."""

    _name = "shopfloor.hold"
    _description = "Shop Floor Quality Hold"
    _inherit = ["mail.thread"]
    _order = "state, date_start desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    state = fields.Selection(
        [("active", "Active"), ("released", "Released")],
        default="active",
        required=True,
        index=True,
        tracking=True,
    )
    production_id = fields.Many2one(
        "mrp.production", string="Manufacturing Order", index=True, ondelete="cascade", check_company=True
    )
    workorder_id = fields.Many2one(
        "mrp.workorder",
        string="Work Order",
        index=True,
        ondelete="cascade",
        check_company=True,
        domain="[('production_id', '=', production_id)]",
        help="Empty: the whole manufacturing order is held.",
    )
    workcenter_id = fields.Many2one(
        "mrp.workcenter",
        string="Work Center",
        index=True,
        check_company=True,
        help="A hold on a workcenter without an order blocks every work order there.",
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    connection_id = fields.Many2one(
        "shopfloor.connection",
        string="Connection",
        readonly=True,
        index=True,
        ondelete="restrict",
        check_company=True,
        help="The connection whose floor raised the hold: its floor hold id is unique within that connection. "
        "Empty for a hold placed in Odoo.",
    )
    reason = fields.Text(required=True, tracking=True)
    reason_code = fields.Char(help="The floor's reason code, as sent.")
    hold_ref = fields.Char(
        string="Floor hold id",
        readonly=True,
        index=True,
        help="The floor's hold_id, used to match the release; unique among the active holds of its connection.",
    )
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

    def init(self):
        cr = self.env.cr
        # Two plants may both send H-1; one plant's H-1 names one active hold.
        # COALESCE: holds of events without a connection share one scope (NULLs never collide).
        cr.execute(
            SQL(
                """CREATE UNIQUE INDEX IF NOT EXISTS shopfloor_hold_active_ref_uniq
                       ON shopfloor_hold (COALESCE(connection_id, 0), hold_ref)
                    WHERE state = 'active' AND hold_ref IS NOT NULL"""
            )
        )

    @api.depends("production_id", "workorder_id", "workcenter_id")
    def _compute_name(self):
        for hold in self:
            target = hold.workorder_id.display_name or hold.production_id.name or hold.workcenter_id.name or ""
            hold.name = _("Hold on %(target)s", target=target)

    @api.onchange("workorder_id")
    def _onchange_workorder_id(self):
        if self.workorder_id:
            self.production_id = self.workorder_id.production_id

    # ------------------------------------------------------------------ guarded writes

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                # The web client sends the defaults back: an active state and empty fields are harmless.
                set_fields = {
                    name: value
                    for name, value in vals.items()
                    if name not in SET_ON_MANUAL_CREATE and value and not (name == "state" and value == "active")
                }
                refuse_protected_write(self, set_fields, PROTECTED_FIELDS, operation="create")
        return super().create(vals_list)

    def write(self, vals):
        refuse_protected_write(self, vals, PROTECTED_FIELDS)
        return super().write(vals)

    # ------------------------------------------------------------------ floor keys

    @api.model
    def _floor_scope_domain(self, connection):
        """Holds of the same floor: the event's connection, or none for an event without one."""
        return [("connection_id", "=", connection.id or False)]

    @api.model
    def _active_floor_hold(self, connection, hold_ref):
        """The active hold the floor of ``connection`` calls ``hold_ref`` (at most one: unique index)."""
        return self.sudo().search(
            [("state", "=", "active"), ("hold_ref", "=", hold_ref), *self._floor_scope_domain(connection)], limit=1
        )

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
        return _(
            "Cannot %(action)s: quality hold active (%(holds)s). Release the hold first.", action=action, holds=holds
        )

    def _raise_if_any(self, action):
        if self:
            raise UserError(self._blocking_message(action))

    # ------------------------------------------------------------------ release

    def action_release(self):
        """Release from the UI: a person's decision, so it happens now.

        For bridge managers, on holds of their companies; the write itself is
        done with the system's rights because state is not writable directly."""
        self._check_release_allowed()
        self.sudo()._release(fields.Datetime.now(), user=self.env.user)
        return True

    def _check_release_allowed(self):
        if self.env.su:
            return
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                _(
                    "User %(user)s may not release quality holds: releasing needs the group "
                    "Shop Floor Bridge / Manager.",
                    user=self.env.user.login,
                )
            )
        # The company rule: a manager of one company cannot release another company's holds.
        self.check_access("write")

    def _release(self, when, event=None, user=None):
        """``user``: who released (a person's click); by default the acting user (the event's)."""
        to_release = self.filtered(lambda hold: hold.state == "active")
        if not to_release:
            return to_release
        to_release.write(
            {
                "state": "released",
                "date_release": when,
                "released_by_id": (user or self.env.user).id,
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
