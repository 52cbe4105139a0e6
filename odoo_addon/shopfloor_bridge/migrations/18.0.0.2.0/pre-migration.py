"""18.0.0.2.0: secrets move to write-only storage; event keys get a connection scope.

- ``mqtt_password`` / ``opcua_password`` became write-only inputs: their values
  move to the ``*_secret`` columns only sudo code reads.
- The idempotency key is (key_scope, source, id): existing events are scoped
  to their connection before the new unique constraint is built.
- Holds and floor time logs carry their connection: existing ones get the
  connection of the event that raised or opened them, before the per-connection
  unique indexes (``init`` of the hold and the time log) are built.
"""


def _has_column(cr, table, column):
    cr.execute("SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s", [table, column])
    return bool(cr.fetchone())


def migrate(cr, version):
    if not version:
        return
    for old, new in (("mqtt_password", "mqtt_password_secret"), ("opcua_password", "opcua_password_secret")):
        if _has_column(cr, "shopfloor_connection", old) and not _has_column(cr, "shopfloor_connection", new):
            cr.execute(f'ALTER TABLE shopfloor_connection RENAME COLUMN "{old}" TO "{new}"')
    if not _has_column(cr, "shopfloor_event", "key_scope"):
        cr.execute("ALTER TABLE shopfloor_event ADD COLUMN key_scope integer NOT NULL DEFAULT 0")
        cr.execute("UPDATE shopfloor_event SET key_scope = connection_id WHERE connection_id IS NOT NULL")
        cr.execute("ALTER TABLE shopfloor_event DROP CONSTRAINT IF EXISTS shopfloor_event_source_uid_uniq")
    for table, column, event_column in (
        ("shopfloor_hold", "connection_id", "hold_event_id"),
        ("mrp_workcenter_productivity", "shopfloor_connection_id", "shopfloor_event_id"),
    ):
        if not _has_column(cr, table, column):
            cr.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" integer')
        cr.execute(
            f"""UPDATE "{table}" record SET "{column}" = event.connection_id
                  FROM shopfloor_event event
                 WHERE record."{event_column}" = event.id AND record."{column}" IS NULL
                   AND event.connection_id IS NOT NULL"""
        )
