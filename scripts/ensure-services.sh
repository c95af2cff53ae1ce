#!/usr/bin/env bash
# Start what the tests need if it is not running: PostgreSQL (the second warehouse target and
# Airflow's production metadata store). Tests that need it fail, never skip, when it is absent.
set -euo pipefail

if command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
    sleep 1
  done
fi
echo "PostgreSQL is not running on 127.0.0.1:5432 and could not be started here;" \
     "tests that need it will fail. Install it (apt-get install postgresql) or set REVWH_TEST_POSTGRES_DSN." >&2
