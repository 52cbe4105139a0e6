"""Field-by-field differences between two snapshots of a connection's mapping configuration.

Plain Python (no Odoo): ``models/shopfloor_mapping_revision.py`` takes the snapshots and shows
what this module finds. A snapshot is::

    {"version": 1,
     "sections": {model name: {row id (text): {"label": text, "values": {field: value}}}}}

A value is JSON: a many2one is ``{"id": 7, "name": "Press 01"}`` (the name as it was then),
a many2many a list of those, a row's own child rows a list of value dicts, anything else as the
ORM reads it. Two values are equal when they point to the same records and hold the same data:
a record renamed since is no change of the mapping.
"""

SNAPSHOT_VERSION = 1

# Marks the writes a restore makes (they record one revision at its end, not one each). A Python
# object, so no RPC caller can put it in a context.
RESTORING = object()

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


def is_reference(value):
    return isinstance(value, dict) and set(value) == {"id", "name"}


def comparable(value):
    """The value with every record reference reduced to its id."""
    if is_reference(value):
        return value["id"]
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items()}
    return value


def is_empty(value):
    return value is None or value is False or value == "" or value == []


def sections(snapshot):
    return (snapshot or {}).get("sections") or {}


def diff(old, new):
    """The changes from snapshot ``old`` to snapshot ``new``, as a list of dicts
    ``{section, row, label, kind, field, old, new}`` in a stable order (section, row id, field).
    An added or removed row lists each of its fields that holds a value."""
    old_sections, new_sections = sections(old), sections(new)
    changes = []
    for section in sorted(set(old_sections) | set(new_sections)):
        old_rows = old_sections.get(section) or {}
        new_rows = new_sections.get(section) or {}
        for row in sorted(set(old_rows) | set(new_rows), key=_row_order):
            before, after = old_rows.get(row), new_rows.get(row)
            if before is None:
                kind, label = ADDED, after["label"]
            elif after is None:
                kind, label = REMOVED, before["label"]
            else:
                kind, label = CHANGED, after["label"]
            old_values = (before or {}).get("values") or {}
            new_values = (after or {}).get("values") or {}
            for field in sorted(set(old_values) | set(new_values)):
                old_value, new_value = old_values.get(field), new_values.get(field)
                if kind == CHANGED and comparable(old_value) == comparable(new_value):
                    continue
                if kind != CHANGED and is_empty(old_value) and is_empty(new_value):
                    continue
                changes.append(
                    {
                        "section": section,
                        "row": row,
                        "label": label,
                        "kind": kind,
                        "field": field,
                        "old": old_value if kind != ADDED else None,
                        "new": new_value if kind != REMOVED else None,
                    }
                )
    return changes


def _row_order(row):
    return (0, int(row)) if str(row).isdigit() else (1, str(row))


def counts(changes):
    """How many rows were added, removed and changed."""
    rows = {}
    for change in changes:
        rows[(change["section"], change["row"])] = change["kind"]
    return {kind: sum(1 for seen in rows.values() if seen == kind) for kind in (ADDED, REMOVED, CHANGED)}


def restoring(env):
    """Whether ``env`` is a restore's (its writes record no revision of their own)."""
    return env.context.get("shopfloor_revision_restore") is RESTORING
