"""Stored values that hold a secret, written so that a refused write cannot log them.

Odoo's cursor logs every statement PostgreSQL refuses with its values (``sql_db``'s
"bad query" line, at ERROR): through the ORM, a secret in an INSERT or UPDATE
reaches the server log whenever the statement fails, for a reason as ordinary as
a concurrent update of the row (the call is then retried), a check constraint on
another field of the same form, or a unique code typed twice. Models keep such
fields out of the ORM's statements and store them by an UPDATE of their own that
Odoo does not log:

    QUIET = ("webhook_url",)

    @api.model_create_multi
    def create(self, vals_list):
        vals_list, quiet = without_quiet(self, vals_list, QUIET, "create")
        records = super().create(vals_list)
        store_each_quietly(records, quiet)
        return records

    def write(self, vals):
        [vals], [quiet] = without_quiet(self, [vals], QUIET, "write")
        result = super().write(vals)
        store_quietly(self, quiet)
        return result

The access checks the ORM would make (the model's, the field's groups) are made
first, the same way, and the fields' ``@api.constrains`` methods run after.
"""

from odoo.tools import SQL


def without_quiet(records, vals_list, names, operation):
    """``vals_list`` without the ``names`` fields, and those fields' values per entry.

    Checks the caller may ``operation`` the model and write those fields (their groups)."""
    rest, quiet = [], []
    for vals in vals_list:
        taken = {name: vals[name] for name in names if name in vals}
        if taken:
            records.check_access(operation)
            records.check_field_access_rights("write", list(taken))
        rest.append({name: value for name, value in vals.items() if name not in taken})
        quiet.append(taken)
    return rest, quiet


def store_quietly(records, values):
    """Stores ``values`` ({field: value}) on every record of ``records``, each by its own UPDATE."""
    if not records or not values:
        return
    for name, value in values.items():
        field = records._fields[name]
        column = field.convert_to_column(value, records) if value else None
        # A pending ORM write of the field goes first, not over this one.
        records.flush_recordset([name])
        records.env.cr.execute(
            SQL(
                "UPDATE %s SET %s = %s WHERE id = ANY(%s)",
                SQL.identifier(records._table),
                SQL.identifier(name),
                column,
                records.ids,
            ),
            log_exceptions=False,
        )
    records.invalidate_recordset(list(values))
    # The ORM's write would run the fields' @api.constrains: so does this one.
    records._validate_fields(values)


def store_each_quietly(records, quiet):
    """After a create: ``quiet[i]`` stored on ``records[i]``."""
    for record, values in zip(records, quiet, strict=True):
        store_quietly(record, values)
