from odoo import fields, models


class ShopfloorEventLog(models.Model):
    """What happened to an event and who did it: ingest, applies, DLQ actions."""

    _name = "shopfloor.event.log"
    _description = "Shop Floor Event History"
    _order = "event_id, id"

    event_id = fields.Many2one("shopfloor.event", required=True, ondelete="cascade", index=True)
    # Not stored: the company rule follows event_id; this lets a refusal name the company.
    company_id = fields.Many2one(related="event_id.company_id")
    user_id = fields.Many2one("res.users", string="Who", required=True, default=lambda self: self.env.user)
    date = fields.Datetime(string="When", required=True, default=fields.Datetime.now)
    action = fields.Selection(
        [
            ("ingest", "Received"),
            ("apply", "Applied"),
            ("fail", "Apply failed"),
            ("pending", "Waiting"),
            ("dead", "Dead-lettered"),
            ("reject", "Rejected"),
            ("retry", "Retry requested"),
            ("edit", "Payload edited"),
            ("discard", "Discarded"),
            ("remap", "Re-mapped"),
            ("remapped_from", "Made by re-mapping"),
        ],
        required=True,
    )
    state = fields.Char(string="State after", help="The event's state after this step.")
    note = fields.Text()
