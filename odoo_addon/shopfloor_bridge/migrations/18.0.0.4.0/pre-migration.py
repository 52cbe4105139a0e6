"""18.0.0.4.0: events link to the mapping revision they were applied under.

``shopfloor_event.mapping_revision_id`` is a stored computed field. Created by the ORM, its
column would be computed for every event ever stored at upgrade time; created here it starts
empty: events applied before change control have no recorded revision to link to (their
``mapping_revision`` number stays). Each connection's first recorded revision is made at its
first change after the upgrade, from its state before that change.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute("ALTER TABLE shopfloor_event ADD COLUMN IF NOT EXISTS mapping_revision_id integer")
