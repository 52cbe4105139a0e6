"""Why the sidecar API refused a call, as a code both sides read from one table.

The table is ``schemas/rpc_errors.json``; the sidecar reads the same file
(``sidecar/src/odoo/errors.ts``) and decides from the code alone (retry, split,
set an item aside, stop for a person). Odoo's JSON-RPC and JSON-2 answers
carry an exception's ``context`` attribute as ``error.data.context``
(``odoo.http.serialize_exception``): the code travels there, the message stays
free text for people.
"""

import json
import os
from functools import lru_cache

from odoo.exceptions import AccessError, UserError

TABLE_PATH = os.path.join(os.path.dirname(__file__), "schemas", "rpc_errors.json")
CONTEXT_KEY = "shopfloor_code"


@lru_cache(maxsize=1)
def table():
    with open(TABLE_PATH, encoding="utf-8") as handle:
        return json.load(handle)


def codes():
    return frozenset(table()["codes"])


class ShopfloorRpcError(UserError):
    """A sidecar call refused as a whole; ``context`` carries its code."""

    def __init__(self, code, message):
        if code not in codes():
            raise ValueError(f"{code!r} is not an error code of {TABLE_PATH}")
        super().__init__(message)
        self.code = code
        self.context = {CONTEXT_KEY: code}


class ShopfloorRpcAccessError(ShopfloorRpcError, AccessError):
    """``forbidden``: an AccessError too, so Odoo logs and shows it as one."""


def rpc_error(code, message):
    """The exception to raise for ``code`` (an AccessError for ``forbidden``)."""
    if code == "forbidden":
        return ShopfloorRpcAccessError(code, message)
    return ShopfloorRpcError(code, message)
