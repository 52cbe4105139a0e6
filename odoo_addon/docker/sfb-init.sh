#!/bin/bash
# One-shot init of the compose production profile (the odoo-init service). Runs
# as root so that it alone reads the Docker secrets (compose mounts secret
# files with the host's owner and mode), then:
#  1. writes Odoo's config file ($ODOO_RC, on a volume the odoo service mounts
#     read-only): admin_passwd from $ODOO_ADMIN_PASSWORD_FILE, list_db = False,
#     db_host/db_port/db_user from HOST/PORT/USER and db_password from
#     $PASSWORD_FILE (the official image's names); owner odoo, mode 0600;
#  2. installs shopfloor_bridge into $SFB_DB without demo data (nothing to do
#     when it is installed already), as the odoo user;
#  3. runs create_integration_user.py in `odoo shell`, as the odoo user: the
#     sidecar's integration user on its connection and an API key, written as a
#     KEY=VALUE file ($SFB_SIDECAR_ENV_FILE) the sidecar reads with --config;
#     on the first run it also gives Odoo's admin user the password in
#     $ADMIN_USER_PASSWORD_FILE (instead of the "admin" of Odoo's base data);
#  4. hands that file to the sidecar's user ($SFB_SIDECAR_UID, the node user of
#     the sidecar image), mode 0400.
set -euo pipefail
: "${ODOO_RC:?ODOO_RC names the config file to write}"
: "${ODOO_ADMIN_PASSWORD_FILE:?ODOO_ADMIN_PASSWORD_FILE names the master password secret}"
: "${PASSWORD_FILE:?PASSWORD_FILE names the PostgreSQL password secret}"
: "${SFB_DB:?SFB_DB names the database}"
: "${SFB_SIDECAR_ENV_FILE:?SFB_SIDECAR_ENV_FILE names the file for the sidecar}"
: "${SFB_SIDECAR_UID:=1000}"
for f in "$ODOO_ADMIN_PASSWORD_FILE" "$PASSWORD_FILE" "${ADMIN_USER_PASSWORD_FILE:?ADMIN_USER_PASSWORD_FILE names the admin user password secret}"; do
  if [[ ! -s "$f" ]]; then
    echo "sfb-init: secret file $f is missing or empty (README.md: docker compose --profile production)" >&2
    exit 1
  fi
done

mkdir -p "$(dirname "$ODOO_RC")"
chown odoo:odoo "$(dirname "$ODOO_RC")"
umask 077
{
  echo "[options]"
  echo "addons_path = /mnt/extra-addons"
  echo "data_dir = /var/lib/odoo"
  echo "admin_passwd = $(<"$ODOO_ADMIN_PASSWORD_FILE")"
  echo "list_db = False"
  echo "db_host = ${HOST:-db}"
  echo "db_port = ${PORT:-5432}"
  echo "db_user = ${USER:-odoo}"
  echo "db_password = $(<"$PASSWORD_FILE")"
} >"$ODOO_RC.tmp"
chown odoo:odoo "$ODOO_RC.tmp"
mv "$ODOO_RC.tmp" "$ODOO_RC"

dir="$(dirname "$SFB_SIDECAR_ENV_FILE")"
mkdir -p "$dir"
chown odoo:odoo "$dir"
if [[ -e "$SFB_SIDECAR_ENV_FILE" ]]; then chown odoo:odoo "$SFB_SIDECAR_ENV_FILE"; fi
# runuser keeps the environment (ODOO_RC, SFB_*) and sets HOME/USER to odoo's.
runuser -u odoo -- /entrypoint.sh odoo -d "$SFB_DB" -i shopfloor_bridge --without-demo=all --stop-after-init --no-http
SFB_ADMIN_USER_PASSWORD="$(<"$ADMIN_USER_PASSWORD_FILE")" \
  runuser -u odoo -- /entrypoint.sh odoo shell -d "$SFB_DB" --no-http </usr/local/share/shopfloor/create_integration_user.py
chown "$SFB_SIDECAR_UID" "$SFB_SIDECAR_ENV_FILE"
chmod 0400 "$SFB_SIDECAR_ENV_FILE"
echo "sfb-init: $ODOO_RC written; $SFB_SIDECAR_ENV_FILE ready for uid $SFB_SIDECAR_UID"
