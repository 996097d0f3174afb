#!/usr/bin/env bash
# Make sure the PostgreSQL the tests use (WINBACK_TEST_POSTGRES_URL, default 127.0.0.1:5432 database test)
# answers; start the local cluster if it does not.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1; then
  echo "PostgreSQL client tools are missing (apt-get install postgresql); the store tests need PostgreSQL" >&2
  exit 1
fi
if ready; then exit 0; fi
echo "starting the local PostgreSQL cluster" >&2
version="$(pg_lsclusters --no-header | awk '$2 == "main" {print $1; exit}')"
if [ -z "$version" ]; then
  echo "no PostgreSQL cluster named main (pg_lsclusters); create one or set WINBACK_TEST_POSTGRES_URL" >&2
  exit 1
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
