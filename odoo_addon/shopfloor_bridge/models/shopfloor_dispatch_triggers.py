"""Where planning changes enter the push-back: MO, WO, work center and connection hooks.

Each hook only marks the work centers whose queue may have changed
(``mark_dirty``); the messages are built once per transaction, just before
commit, so 50 changes in one request make one message per target.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..field_guard import refuse_protected_write
from .shopfloor_dispatch import check_planner, mark_dirty

PRODUCTION_FIELDS = {"priority": "priority", "date_start": "planned_dates", "date_finished": "planned_dates"}
WORKORDER_FIELDS = {
    "sequence": "sequence",
    "date_start": "planned_dates",
    "date_finished": "planned_dates",
    "workcenter_id": "workcenter",
}


class MrpProduction(models.Model):
    # The dispatch triggers of all models stay together in this file.
    _inherit = "mrp.production"  # pylint: disable=consider-merging-classes-inherited

    def _dispatch_workcenters(self):
        return self.workorder_ids.workcenter_id

    def _dispatch_mark(self, reason, workcenters=None):
        reason = self.env.context.get("shopfloor_dispatch_reason") or reason
        mark_dirty(self, workcenters if workcenters is not None else self._dispatch_workcenters(), reason, self)

    def action_confirm(self):
        result = super().action_confirm()
        self._dispatch_mark("confirm")
        return result

    def action_cancel(self):
        workcenters = self._dispatch_workcenters()
        result = super().action_cancel()
        self._dispatch_mark("cancel", workcenters)
        return result

    def button_mark_done(self):
        workcenters = self._dispatch_workcenters()
        result = super().button_mark_done()
        self._dispatch_mark("done", workcenters)
        return result

    def _plan_workorders(self, replan=False):
        # The writes inside (WO and MO dates) carry this reason instead of "planned_dates".
        planning = self.with_context(shopfloor_dispatch_reason="reschedule")
        result = super(MrpProduction, planning)._plan_workorders(replan=replan)
        planning._dispatch_mark("reschedule")
        return result

    def button_unplan(self):
        result = super().button_unplan()
        self._dispatch_mark("unplan")
        return result

    def write(self, vals):
        reasons = [reason for field, reason in PRODUCTION_FIELDS.items() if field in vals]
        if not reasons:
            return super().write(vals)
        before = {production.id: production._dispatch_values() for production in self}
        result = super().write(vals)
        # Only orders whose visible planning changed; a write of the same value is no change.
        changed = self.filtered(lambda production: before.get(production.id) != production._dispatch_values())
        for reason in dict.fromkeys(reasons):
            changed._dispatch_mark(reason)
        return result

    def _dispatch_values(self):
        return (self.priority, self.date_start, self.date_finished)


class MrpWorkorder(models.Model):
    # The dispatch triggers of all models stay together in this file.
    _inherit = "mrp.workorder"  # pylint: disable=consider-merging-classes-inherited

    @api.model_create_multi
    def create(self, vals_list):
        workorders = super().create(vals_list)
        mark_dirty(workorders, workorders.workcenter_id, "workorders", workorders.production_id)
        return workorders

    def write(self, values):
        reasons = [reason for field, reason in WORKORDER_FIELDS.items() if field in values]
        before = self.workcenter_id if "workcenter_id" in values else self.browse().workcenter_id
        result = super().write(values)
        if reasons:
            reason = self.env.context.get("shopfloor_dispatch_reason") or ", ".join(dict.fromkeys(reasons))
            mark_dirty(self, before | self.workcenter_id, reason, self.production_id)
        return result

    def unlink(self):
        workcenters, productions = self.workcenter_id, self.production_id
        result = super().unlink()
        mark_dirty(productions, workcenters, "workorders", productions)
        return result

    def button_start(self, *args, **kwargs):
        result = super().button_start(*args, **kwargs)
        mark_dirty(self, self.workcenter_id, "started", self.production_id)
        return result

    def button_finish(self):
        result = super().button_finish()
        mark_dirty(self, self.workcenter_id, "finished", self.production_id)
        return result

    def action_cancel(self):
        workcenters = self.workcenter_id
        result = super().action_cancel()
        mark_dirty(self, workcenters, "cancel", self.production_id)
        return result


class MrpWorkcenter(models.Model):
    # The dispatch triggers of all models stay together in this file.
    _inherit = "mrp.workcenter"  # pylint: disable=consider-merging-classes-inherited

    shopfloor_dispatch_version = fields.Integer(
        string="Floor queue version",
        readonly=True,
        copy=False,
        help="Version of the last queue built for the floor; increases with every message.",
    )
    shopfloor_dispatch_target_ids = fields.One2many(
        "shopfloor.dispatch.target", "workcenter_id", string="Floor targets"
    )
    shopfloor_dispatch_count = fields.Integer(compute="_compute_shopfloor_dispatch_count", string="Floor messages")

    def write(self, vals):
        # Numbered only by _next_dispatch_version: the floor orders queues by it.
        refuse_protected_write(self, vals, {"shopfloor_dispatch_version": "Push queue now"})
        return super().write(vals)

    def _compute_shopfloor_dispatch_count(self):
        counts = dict(
            self.env["shopfloor.dispatch"]
            .sudo()
            ._read_group([("workcenter_id", "in", self.ids)], ["workcenter_id"], ["__count"])
        )
        for workcenter in self:
            workcenter.shopfloor_dispatch_count = counts.get(workcenter, 0)

    def _next_dispatch_version(self):
        """Atomic per work center: the row lock orders concurrent transactions."""
        self.ensure_one()
        self.env.cr.execute(
            "UPDATE mrp_workcenter SET shopfloor_dispatch_version = COALESCE(shopfloor_dispatch_version, 0) + 1"
            " WHERE id = %s RETURNING shopfloor_dispatch_version",
            (self.id,),
        )
        self.invalidate_recordset(["shopfloor_dispatch_version"])
        return self.env.cr.fetchone()[0]

    def action_shopfloor_push_queue(self):
        """'Push queue now': a fresh message per target, sent at the next poll."""
        check_planner(self.env)
        self.check_access("read")
        without_target = self.filtered(lambda wc: not wc.sudo().shopfloor_dispatch_target_ids)
        if without_target:
            names = ", ".join(without_target.mapped("display_name"))
            raise UserError(
                _("No floor target is configured for %s (Shop Floor → Configuration → Floor targets).", names)
            )
        messages = self.env["shopfloor.dispatch"].sudo()._queue_workcenters(self, reason="manual", forced=True)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _("Queue pushed: %s message(s) waiting for the sidecar.", len(messages)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_shopfloor_dispatch_log(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("shopfloor_bridge.shopfloor_dispatch_action")
        action["domain"] = [("workcenter_id", "=", self.id)]
        action["context"] = {"default_workcenter_id": self.id}
        return action


class ShopfloorConnection(models.Model):
    # The dispatch triggers of all models stay together in this file.
    _inherit = "shopfloor.connection"  # pylint: disable=consider-merging-classes-inherited

    # Default 1 s: the floor sees a planning change within ~1.5 s (settle + poll).
    dispatch_poll_interval_ms = fields.Integer(default=1000)
    dispatch_settle_ms = fields.Integer(
        string="Dispatch settle (ms)",
        default=300,
        help="A queue is sent once it has not changed for this long, so a burst of changes makes one write.",
    )
    # A planner's editing session (tens of changes over several seconds) should reach the
    # floor as one or two writes, while endless churn still shows up every 10 s.
    dispatch_max_hold_ms = fields.Integer(
        string="Dispatch max hold (ms)",
        default=10000,
        help="During a long burst of changes the queue is still sent at least this often.",
    )
    dispatch_max_attempts = fields.Integer(
        string="Dispatch attempts", default=10, help="A floor write failing this often is left failed for a person."
    )
    dispatch_target_ids = fields.One2many("shopfloor.dispatch.target", "connection_id", string="Floor targets")

    def _sidecar_dispatch_targets(self):
        return [target._sidecar_target() for target in self.sudo().dispatch_target_ids.filtered("active")]
