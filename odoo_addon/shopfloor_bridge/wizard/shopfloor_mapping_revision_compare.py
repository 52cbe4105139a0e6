"""Compare two mapping revisions of a connection, field by field, and restore the older."""

import json

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import revision_diff


class ShopfloorMappingRevisionCompare(models.TransientModel):
    _name = "shopfloor.mapping.revision.compare"
    _description = "Compare two mapping revisions"

    connection_id = fields.Many2one("shopfloor.connection", related="from_revision_id.connection_id")
    # Names the company in a refusal (Odoo suggests switching to it).
    company_id = fields.Many2one(related="from_revision_id.company_id")
    from_revision_id = fields.Many2one("shopfloor.mapping.revision", string="From", required=True)
    to_revision_id = fields.Many2one(
        "shopfloor.mapping.revision",
        string="To",
        required=True,
        domain="[('connection_id', '=', connection_id)]",
    )
    added_count = fields.Integer(string="Rows added", compute="_compute_diff")
    removed_count = fields.Integer(string="Rows removed", compute="_compute_diff")
    changed_count = fields.Integer(string="Rows changed", compute="_compute_diff")
    diff_html = fields.Html(string="Differences", compute="_compute_diff", sanitize=False)

    @api.constrains("from_revision_id", "to_revision_id")
    def _check_same_connection(self):
        for compare in self:
            if compare.from_revision_id.connection_id != compare.to_revision_id.connection_id:
                raise ValidationError(_("Compare two revisions of the same connection."))

    def _changes(self):
        self.ensure_one()
        return revision_diff.diff(
            json.loads(self.from_revision_id.snapshot_json or "{}"),
            json.loads(self.to_revision_id.snapshot_json or "{}"),
        )

    @api.depends("from_revision_id", "to_revision_id")
    def _compute_diff(self):
        Revision = self.env["shopfloor.mapping.revision"]
        for compare in self:
            if not (compare.from_revision_id and compare.to_revision_id):
                compare.update({"added_count": 0, "removed_count": 0, "changed_count": 0, "diff_html": False})
                continue
            changes = compare._changes()
            counts = revision_diff.counts(changes)
            compare.added_count = counts[revision_diff.ADDED]
            compare.removed_count = counts[revision_diff.REMOVED]
            compare.changed_count = counts[revision_diff.CHANGED]
            compare.diff_html = (
                Revision._changes_table(changes)
                if changes
                else Markup("<p>%s</p>") % _("The two revisions map the same.")
            )

    def action_swap(self):
        self.ensure_one()
        self.write({"from_revision_id": self.to_revision_id.id, "to_revision_id": self.from_revision_id.id})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_restore_from(self):
        self.ensure_one()
        return self.from_revision_id.action_restore()
