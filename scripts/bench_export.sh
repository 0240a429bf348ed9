#!/usr/bin/env bash
# CSV export benchmark of a release build (issue #5, docs/performance.md "Exports"): a scratch
# database holding 1,000,000 tickets (a small `desk seed`, then `INSERT … SELECT
# generate_series`), served by `desk demo` on loopback (its identity provider mints a staff
# token). Measures with curl the ticket export of every row: time to first byte, total time,
# rows/s, and the server's peak resident set during the export (VmHWM, reset before it).
#
# Usage: scripts/bench_export.sh [tickets]   (env: DATABASE_URL = admin connection)
set -euo pipefail
cd "$(dirname "$0")/.."
TICKETS="${1:-1000000}"
ADMIN_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BENCH_DB="desk_bench_export"
BENCH_URL="${ADMIN_URL%/*}/${BENCH_DB}"
# shellcheck source=scripts/bench_common.sh
source scripts/bench_common.sh
SERVER_URL="$(server_url "$BENCH_DB")"
PORT=18095 # the demo's identity provider takes PORT + 1
OUT="$(mktemp -d)"
trap 'kill "${DEMO_PID:-}" 2>/dev/null && wait "$DEMO_PID" 2>/dev/null || true; rm -rf "$OUT"' EXIT

cargo build --release --bin desk
DESK="$(pwd)/${CARGO_TARGET_DIR:-target}/release/desk"

psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)" -c "CREATE DATABASE ${BENCH_DB}"
DATABASE_URL="$BENCH_URL" "$DESK" migrate
DATABASE_URL="$BENCH_URL" "$DESK" seed --profiles 200 --tickets 100 --seed 42 >/dev/null
/usr/bin/time -f "seeded tickets up to ${TICKETS} in %e s" psql "$BENCH_URL" -qc "
  INSERT INTO tickets (requester_id, kind, request_type, status, priority, background, countries,
                       tags, country, member_center, deadline_at, created_at, updated_at)
  SELECT p.ids[1 + g % array_length(p.ids, 1)],
         (ARRAY['person_ownership','company_ownership','vehicle_tracking','data_request','other'])[1 + g % 5],
         (ARRAY['subs','cost','cost_plus'])[1 + g % 3],
         (ARRAY['new','in-progress','pending','closed','cancelled'])[1 + g % 5],
         (ARRAY['low','default','high'])[1 + g % 3],
         'Bulk background ' || g, ARRAY['MD','RO'], ARRAY['bulk', 'tag ' || (g % 100)], 'RO', 'OCCRP',
         CASE WHEN g % 2 = 0 THEN now() + g * interval '1 minute' END,
         now() - g * interval '1 second' - interval '1 microsecond' * (g % 1000), now()
  FROM generate_series(1, ${TICKETS} - (SELECT count(*) FROM tickets)) AS g,
       (SELECT array_agg(id) AS ids FROM profiles) AS p"
psql "$BENCH_URL" -qc "VACUUM ANALYZE"
STAFF_EMAIL=$(psql "$BENCH_URL" -Atc "SELECT email FROM profiles WHERE is_staff AND is_active
  AND email <> '' ORDER BY id LIMIT 1")

# DESK_DB_POOL_SIZE=4: see scripts/bench.sh.
(cd "$OUT" && DATABASE_URL="$SERVER_URL" DESK_LOG=warn DESK_DB_POOL_SIZE=4 exec "$DESK" demo --port "$PORT" \
  --token-for "$STAFF_EMAIL" >"$OUT/demo.log" 2>&1) &
DEMO_PID=$!
wait_for_demo "$OUT/demo.log" "$DEMO_PID"
STAFF=$(grep -A1 "requested with --token-for" "$OUT/demo.log" | grep -o "Bearer [^']*" | head -n1 | cut -d' ' -f2)
BASE="http://127.0.0.1:$PORT"
curl -sf -o /dev/null -H "Authorization: Bearer $STAFF" "$BASE/api/v3/me"

rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$DEMO_PID/status"; }
reset_peak() { echo 5 >"/proc/$DEMO_PID/clear_refs"; }
count_rows() { python3 -c 'import csv,sys; n=sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))); print(n-1)' "$1"; }

export_run() { # name path
  local name="$1" path="$2"
  reset_peak
  local idle; idle=$(rss VmRSS)
  local timing
  timing=$(curl -sS -o "$OUT/export.csv" -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}' \
    -H "Authorization: Bearer $STAFF" "$BASE$path")
  read -r code first total bytes <<<"$timing"
  local rows; rows=$(count_rows "$OUT/export.csv")
  local rate; rate=$(python3 -c "print(round($rows / $total))")
  printf '| %s | %s | %s | %s s | %s s | %s | %s MB | %s KiB | %s KiB |\n' "$name" "$code" "$rows" "$first" "$total" \
    "$rate" "$(python3 -c "print(round($bytes / 1e6, 1))")" "$idle" "$(rss VmHWM)"
}

echo
echo "| export | HTTP | rows | first byte | total | rows/s | body | RSS before | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
export_run "tickets, all" "/api/v3/ticket-exports"
export_run "tickets, all (2nd run)" "/api/v3/ticket-exports"
export_run "tickets, SPA filters (3 statuses, sort)" "/api/v3/ticket-exports?filter%5Bstatus__in%5D=new,in-progress,pending&sort=deadline_at&page%5Bnumber%5D=2&page%5Bsize%5D=25"
echo
head -c 400 "$OUT/export.csv"; echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
