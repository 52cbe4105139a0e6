"""18.0.0.3.0: tag-rule parameters become typed fields; params_json is made from them.

``params_json`` was a stored text column; it is now computed (and an import
format). Its column is kept as ``legacy_params_json`` so the post-migration
can fill the typed fields from it, and so nothing a person typed is lost.
"""


def _has_column(cr, table, column):
    cr.execute("SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s", [table, column])
    return bool(cr.fetchone())


def migrate(cr, version):
    if not version:
        return
    if _has_column(cr, "shopfloor_mapping_rule", "params_json") and not _has_column(
        cr, "shopfloor_mapping_rule", "legacy_params_json"
    ):
        cr.execute("ALTER TABLE shopfloor_mapping_rule RENAME COLUMN params_json TO legacy_params_json")
