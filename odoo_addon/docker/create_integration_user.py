# ruff: noqa: F821  (`env` is given by `odoo shell`)
"""The sidecar's integration user and API key, for the compose production profile.

Run by `odoo shell -d <db> < create_integration_user.py` (odoo_addon/docker/sfb-init.sh):

- the connection SHOPFLOOR_CONNECTION (created when missing: MQTT, broker
  SFB_MQTT_URL, topics shopfloor/#; its mappings are then made in Odoo);
- its integration user SFB_SIDECAR_LOGIN (default sidecar-<code>), created
  with only the integration group and listed on the connection, by the
  module's own "New integration user" wizard;
- an API key generated as that user (``res.users.apikeys._generate``, by the
  same wizard), written with ODOO_USER and SHOPFLOOR_CONNECTION as KEY=VALUE
  lines to SFB_SIDECAR_ENV_FILE, which the sidecar reads with ``--config``.

A later run keeps the file while its key still logs in as that user, and
otherwise renews the key (the wizard's "New API key"), so restarts of the stack
neither pile up keys nor leave the sidecar with a dead one.

Without demo data Odoo's admin user still has the password "admin": the first
run gives it SFB_ADMIN_USER_PASSWORD (sfb-init.sh reads it from a Docker
secret) and records that in a system parameter, so a password changed later in
Odoo is never overwritten.
"""

import os

code = os.environ.get("SHOPFLOOR_CONNECTION", "plant1-mqtt")
login = os.environ.get("SFB_SIDECAR_LOGIN") or f"sidecar-{code}"
out = os.environ["SFB_SIDECAR_ENV_FILE"]


def read_env_file(path):
    values = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep and not key.startswith("#"):
                    values[key] = value
    except FileNotFoundError:
        pass
    return values


ADMIN_SET = "shopfloor_bridge.compose_admin_password_set"
admin_password = os.environ.get("SFB_ADMIN_USER_PASSWORD", "")
params = env["ir.config_parameter"].sudo()
if admin_password and not params.get_param(ADMIN_SET):
    env.ref("base.user_admin").sudo().password = admin_password
    params.set_param(ADMIN_SET, "1")
    env.cr.commit()
    print("create_integration_user: the admin user's password set from the secret")

Users = env["res.users"].sudo().with_context(active_test=False)
Connection = env["shopfloor.connection"].sudo().with_context(active_test=False)
connection = Connection.search([("code", "=", code)], limit=1)
if not connection:
    connection = Connection.create(
        {
            "code": code,
            "name": code,
            "kind": "mqtt",
            "mqtt_url": os.environ.get("SFB_MQTT_URL", "mqtt://mosquitto:1883"),
            "topic_filters": "shopfloor/#",
        }
    )
    print(f"create_integration_user: connection {code} created")

user = Users.search([("login", "=", login)], limit=1)
previous = read_env_file(out)
uid = None
if user and previous.get("ODOO_USER") == login and previous.get("ODOO_API_KEY"):
    uid = env["res.users.apikeys"]._check_credentials(scope="rpc", key=previous["ODOO_API_KEY"])
if uid and uid == user.id and user in connection.integration_user_ids:
    print(f"create_integration_user: {out} holds a working key for {login}; kept")
else:
    wizard = env["shopfloor.integration.user"].create(
        {
            "connection_id": connection.id,
            "mode": "renew" if user else "create",
            "user_id": user.id if user else False,
            "login": login,
            "name": f"Sidecar {code}",
        }
    )
    if user and user not in connection.integration_user_ids:
        connection.integration_user_ids = [(4, user.id)]
    key = wizard.action_confirm()["context"]["default_key"]
    env.cr.commit()
    tmp = f"{out}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"ODOO_USER={login}\nODOO_API_KEY={key}\nSHOPFLOOR_CONNECTION={code}\n")
    os.replace(tmp, out)
    print(f"create_integration_user: API key for {login} on {code} written to {out}")
