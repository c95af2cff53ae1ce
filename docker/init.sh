#!/usr/bin/env bash
# The airflow-init service: everything a deploy needs once, before the other services start.
# Idempotent: every `docker compose up` runs it again (after an upgrade it migrates the database).
set -euo pipefail

echo "migrating the Airflow metadata database"
airflow db migrate

echo "creating the writer pool"
airflow pools set revwh_warehouse_writer 1 "DuckDB allows one writer at a time"

# the admin user: the simple auth manager reads its password from this file (written from the
# secret in the env file, never baked into the image)
python - <<'PY'
import json, os
path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
user = os.environ.get("AIRFLOW_ADMIN_USER", "admin")
with open(path, "w") as out:
    json.dump({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, out)
os.chmod(path, 0o600)
print(f"admin user {user!r} written to {path}")
PY

echo "writing the dbt manifest (rendered as tasks when REVWH_DBT_TASKS=cosmos)"
python -m revwh.cosmos_dbt

if [ "${REVWH_TARGET:-duckdb}" = postgres ] && [ -n "${REVWH_BI_ROLE:-}" ]; then
  echo "granting the BI role ${REVWH_BI_ROLE}"
  python -m revwh.bi_access
fi
echo "init done"
