from psycopg2.extras import execute_values

from odoo import api, fields, models

LOGGED_COLUMNS = ("event_id", "user_id", "date", "action", "state", "note")


def _column(text):
    """As the ORM stores a text field: False and None as NULL, anything else (even '') as given."""
    return None if text is None or text is False else text


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
            ("reverse", "Reversed"),
            ("reapply", "Re-apply requested"),
        ],
        required=True,
    )
    state = fields.Char(string="State after", help="The event's state after this step.")
    note = fields.Text()

    @api.model
    def _create_rows(self, rows):
        """One history row per dict of ``rows`` (event_id, action, state, note;
        user_id and date as ``create`` defaults them), in one INSERT: ingest and
        apply write a row for every event of a batch, and the ORM's ``create``
        cost more per row than most steps it records. Same rows as ``create``
        (``TestEventLog``); nothing else hooks the creation of a history row."""
        if not rows:
            return
        actions = {key for key, _label in self._fields["action"].selection}
        unknown = {row["action"] for row in rows} - actions
        if unknown:
            raise ValueError(f"unknown shopfloor.event.log actions {sorted(unknown)}")
        now = fields.Datetime.now()
        uid = self.env.uid
        values = [
            (
                row["event_id"],
                row.get("user_id") or uid,
                row.get("date") or now,
                row["action"],
                _column(row.get("state")),
                _column(row.get("note")),
                uid,
                now,
                uid,
                now,
            )
            for row in rows
        ]
        self.env["shopfloor.event"].flush_model()  # the events the rows point to
        execute_values(
            self.env.cr._obj,
            f"INSERT INTO shopfloor_event_log ({', '.join(LOGGED_COLUMNS)}, create_uid, create_date, write_uid, "
            "write_date) VALUES %s",
            values,
            page_size=len(values),
        )
        self.env["shopfloor.event"].invalidate_model(["history_ids"])
