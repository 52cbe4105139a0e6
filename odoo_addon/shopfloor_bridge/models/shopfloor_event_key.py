"""Idempotency keys of events the retention purge removed.

An applied event is deleted after ``shopfloor_bridge.retention_days``; a
producer may still resend it later (a PLC buffer replayed after a repair, an
MES re-export). Its key (connection scope, source, id) is kept here for
``shopfloor_bridge.key_retention_days`` after it was applied, so the resend
answers ``duplicate`` instead of booking the production a second time.
"""

from odoo import fields, models


class ShopfloorEventKey(models.Model):
    _name = "shopfloor.event.key"
    _description = "Shop Floor purged event key"
    _log_access = False

    key_scope = fields.Integer(required=True, readonly=True, help="The event's connection (0: none).")
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    source = fields.Char(required=True, readonly=True)
    event_uid = fields.Char(string="Event id", required=True, readonly=True)
    event_id = fields.Integer(string="Purged event record", readonly=True)
    applied_time = fields.Datetime(readonly=True, index=True)

    _sql_constraints = [
        ("key_uniq", "unique(key_scope, source, event_uid)", "A purged event key is kept once."),
    ]

    def _purged_keys(self, keys):
        """``{(scope, source, uid): purged event id}`` for those of ``keys`` kept here."""
        if not keys:
            return {}
        scopes, sources, uids = zip(*keys, strict=True)
        self.env.cr.execute(
            """
            SELECT k.key_scope, k.source, k.event_uid, k.event_id
              FROM shopfloor_event_key k
              JOIN unnest(%s::int[], %s::varchar[], %s::varchar[]) AS b(scope, source, uid)
                ON k.key_scope = b.scope AND k.source = b.source AND k.event_uid = b.uid
            """,
            [list(scopes), list(sources), list(uids)],
        )
        return {(scope, source, uid): event_id for scope, source, uid, event_id in self.env.cr.fetchall()}

    def _keep_keys_of(self, events):
        """Before ``events`` are deleted: keep their keys."""
        if not events:
            return
        events.flush_model(["key_scope", "company_id", "source", "event_uid", "applied_time"])
        self.env.cr.execute(
            """
            INSERT INTO shopfloor_event_key (key_scope, company_id, source, event_uid, event_id, applied_time)
            SELECT key_scope, company_id, source, event_uid, id, applied_time FROM shopfloor_event WHERE id = ANY(%s)
            ON CONFLICT (key_scope, source, event_uid) DO NOTHING
            """,
            [events.ids],
        )

    def _forget_before(self, cutoff):
        """Keys of events applied before ``cutoff`` go: a resend that old is a new event."""
        self.flush_model()
        self.invalidate_model()
        self.env.cr.execute("DELETE FROM shopfloor_event_key WHERE applied_time < %s", [cutoff])
        return self.env.cr.rowcount
