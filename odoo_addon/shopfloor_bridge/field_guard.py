"""Fields only audited code paths may change, and callers only some groups may be.

A ``readonly`` field is read-only in forms only: over RPC anyone with write
access to the model can ``write`` it (an event's state or company, the payload
a sidecar then writes to a PLC). Models call :func:`refuse_protected_write`
from ``write`` (and ``create`` where a field must never be set by a caller) so
a plain write of such a field is refused, naming the fields and the action
that changes them. The audited paths (ingest, apply, retry, discard, dispatch
ack, ...) check their caller themselves and then write with ``.sudo()``, which
passes here.

    PROTECTED = {"state": "Retry / Discard", "company_id": None}

    def write(self, vals):
        refuse_protected_write(self, vals, PROTECTED)
        return super().write(vals)
"""

from .rpc_errors import ShopfloorRpcAccessError


def protected_fields_in(vals, protected_fields):
    """The names of ``protected_fields`` that ``vals`` sets, in a stable order."""
    return sorted(name for name in protected_fields if name in vals)


def refuse_protected_write(records, vals, protected_fields, operation="write"):
    """Raise an AccessError (rpc code ``forbidden``, a ShopfloorRpcAccessError)
    when a non-superuser env sets a protected field.

    ``records`` is the recordset (or the empty model for ``create``);
    ``protected_fields`` is an iterable of field names, or a dict mapping a
    field name to the audited action that changes it (``None`` when no action
    changes it after creation). Superuser envs (``.sudo()``, cron, install)
    pass: that is how the audited paths write.
    """
    if records.env.su:
        return
    names = protected_fields_in(vals, protected_fields)
    if not names:
        return
    actions = protected_fields if isinstance(protected_fields, dict) else {}
    how = sorted({actions[name] for name in names if actions.get(name)})
    if how:
        actions_text = " / ".join(f"'{action}'" for action in how)
        advice = f"use the action {actions_text} instead"
    else:
        advice = "these fields are set by the shop-floor bridge itself"
    fields_text = ", ".join(names)
    raise ShopfloorRpcAccessError(
        "forbidden",
        f"{records._name}: {operation} of {fields_text} is not allowed over a plain {operation} "
        f"(only audited actions may change them); {advice}.",
    )


def require_groups(env, groups, action):
    """Raise an AccessError (rpc code ``forbidden``) unless the caller is the
    superuser or has one of ``groups`` (xml ids); the message names them.

    For public methods that run with elevated rights once the caller is known
    (reports, refreshes, screens' data): the ORM's model ACL does not guard them.
    """
    if env.su or any(env.user.has_group(group) for group in groups):
        return
    names = " or ".join(f"'{_group_name(env, group)}'" for group in groups)
    raise ShopfloorRpcAccessError("forbidden", f"User {env.user.login} may not {action}: it needs the group {names}.")


def _group_name(env, xmlid):
    group = env.ref(xmlid, raise_if_not_found=False)
    return group.sudo().full_name if group else xmlid
