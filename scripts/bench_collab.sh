#!/usr/bin/env bash
# Collaboration benchmark of a release build (issue #4, docs/performance.md "Collaboration"):
# a scratch database with a small seed plus one ticket holding 100,000 comments and their
# activities; `desk demo` serves it on loopback (its identity provider mints the tokens, its
# in-process worker runs the notices). Measures with wrk, 16 connections:
#   - the timeline of that ticket (activities, includes, page of 50, newest first);
#   - POST /comments (comment + activity + job in one transaction), spread over the
#     requester's tickets, then all on the one ticket (every comment bumps its row);
# and with curl: upload and download of a 100 MB file, with the server's peak RSS per phase.
#
# Usage: scripts/bench_collab.sh [seconds per run]   (env: DATABASE_URL = admin connection)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-20}"
ADMIN_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BENCH_DB="desk_bench_collab"
BENCH_URL="${ADMIN_URL%/*}/${BENCH_DB}"
# shellcheck source=scripts/bench_common.sh
source scripts/bench_common.sh
SERVER_URL="$(server_url "$BENCH_DB")"
PORT=18090 # the demo's identity provider takes PORT + 1
ACTIVITIES=100000
OUT="$(mktemp -d)"
trap 'kill "${DEMO_PID:-}" 2>/dev/null && wait "$DEMO_PID" 2>/dev/null || true; rm -rf "$OUT"' EXIT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --bin desk
DESK="$(pwd)/${CARGO_TARGET_DIR:-target}/release/desk"

psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)" -c "CREATE DATABASE ${BENCH_DB}"
DATABASE_URL="$BENCH_URL" "$DESK" migrate
DATABASE_URL="$BENCH_URL" "$DESK" seed --profiles 200 --tickets 2000 --seed 42 >/dev/null

# A journalist (no roles) and their first ticket: the timeline's ticket.
read -r TICKET REQUESTER_ID REQUESTER_EMAIL < <(psql "$BENCH_URL" -AtF' ' -c "
  SELECT t.id, p.id, p.email FROM tickets t JOIN profiles p ON p.id = t.requester_id
  WHERE NOT p.is_staff AND NOT p.is_superuser AND p.is_active AND p.email <> ''
  ORDER BY t.id LIMIT 1")
# One statement: the comments and, from what it returned, their comment:create activities.
/usr/bin/time -f "seeded ${ACTIVITIES} comments + activities in %e s" psql "$BENCH_URL" -qc "
  WITH c AS (
    INSERT INTO comments (ticket_id, user_id, body, created_at)
    SELECT ${TICKET}, ${REQUESTER_ID}, 'Timeline comment ' || g, now() - g * interval '1 second'
    FROM generate_series(1, ${ACTIVITIES}) AS g
    RETURNING id, user_id, created_at)
  INSERT INTO activities (ticket_id, actor_id, verb, action_type, action_id, \"timestamp\")
  SELECT ${TICKET}, user_id, 'comment:create', 'comment', id, created_at FROM c"
# The steady state autovacuum reaches: statistics, hint bits and the visibility map set.
psql "$BENCH_URL" -qc "VACUUM ANALYZE"
TICKETS=$(psql "$BENCH_URL" -Atc "SELECT string_agg(id::text, ',') FROM (SELECT id FROM tickets
  WHERE requester_id = ${REQUESTER_ID} ORDER BY id LIMIT 50) t")

# The demo writes its media and outbox under the working directory: keep them in $OUT.
# 6 connections, not bench.sh's 4: a write holds its connection while its commit waits for
# the disk, so two more keep the cores busy (POST comment +15 %; docs/performance.md).
(cd "$OUT" && DATABASE_URL="$SERVER_URL" DESK_LOG=warn DESK_DB_POOL_SIZE=6 exec "$DESK" demo --port "$PORT" \
  --token-for "$REQUESTER_EMAIL" >"$OUT/demo.log" 2>&1) &
DEMO_PID=$!
wait_for_demo "$OUT/demo.log" "$DEMO_PID"
token() { grep -A1 "$1" "$OUT/demo.log" | grep -o "Bearer [^']*" | head -n1 | cut -d' ' -f2; }
REQUESTER=$(token "requested with --token-for")
BASE="http://127.0.0.1:$PORT"
echo "ticket $TICKET of $REQUESTER_EMAIL; the requester's tickets: $TICKETS"
# One request first: the verifier's key cache is filled before 16 connections arrive at once.
curl -sf -o /dev/null -H "Authorization: Bearer $REQUESTER" -H "Accept: application/vnd.api+json" \
  "$BASE/api/v3/me"

run() { # name path [script] (env CONNS: connections, 16 by default)
  local name="$1" path="$2" script="${3:-}" conns="${CONNS:-16}"
  local args=(-t"$(( conns < 2 ? conns : 2 ))" -c"$conns" -d"${DURATION}s" --latency -H "Authorization: Bearer $REQUESTER"
    -H "Accept: application/vnd.api+json")
  [ -n "$script" ] && args+=(-s "$script")
  local file="$OUT/$(echo "$name" | tr -c 'a-zA-Z0-9' '_').txt"
  wrk "${args[@]}" "$BASE$path" >"$file"
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$file")
  p50=$(awk '$1=="50%" {print $2}' "$file")
  p99=$(awk '$1=="99%" {print $2}' "$file")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$file"); non2xx=${non2xx:-0}
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" "$non2xx"
}

comment_script() { # file ticket-ids: POST a comment, rotating over the tickets
  cat >"$1" <<LUA
local tickets = { $2 }
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/vnd.api+json"
request = function()
  n = n + 1
  local body = '{"data":{"type":"comments","attributes":{"body":"Bench comment",'
    .. '"ticket":{"type":"tickets","id":"' .. tickets[(n % #tickets) + 1] .. '"}}}}'
  return wrk.format(nil, nil, nil, body)
end
LUA
}
comment_script "$OUT/spread.lua" "$TICKETS"
comment_script "$OUT/hot.lua" "$TICKET"

echo
echo "| request | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
timeline() { echo "/api/v3/activities?filter%5Btarget_object_id%5D=$1&include=comment,responder-user,user&page%5Bsize%5D=50&sort=-timestamp"; }
run "timeline, 100k activities" "$(timeline "$TICKET")"
CONNS=4 run "timeline, 100k activities, 4 connections" "$(timeline "$TICKET")"
# The same request on a seeded ticket of the requester with a handful of activities.
SMALL=$(psql "$BENCH_URL" -Atc "SELECT t.id FROM tickets t WHERE t.requester_id = ${REQUESTER_ID}
  AND t.id <> ${TICKET} ORDER BY t.id LIMIT 1")
SMALL_COUNT=$(psql "$BENCH_URL" -Atc "SELECT count(*) FROM activities WHERE ticket_id = ${SMALL}")
run "timeline, ${SMALL_COUNT} activities" "$(timeline "$SMALL")"
run "POST comment, the requester's tickets" "/api/v3/comments" "$OUT/spread.lua"
run "POST comment, one ticket" "/api/v3/comments" "$OUT/hot.lua"
echo
sleep 1 # requests still in flight when wrk stopped
psql "$BENCH_URL" -Atc "SELECT format('written: %s comments, %s activities, %s comment-created jobs',
  (SELECT count(*) FROM comments WHERE body = 'Bench comment'),
  (SELECT count(*) FROM activities a JOIN comments c ON a.action_type = 'comment'
     AND a.action_id = c.id WHERE c.body = 'Bench comment'),
  (SELECT count(*) FROM jobs WHERE kind = 'comment-created'))"

# Upload and download of 100 MB: VmHWM is reset before each phase (clear_refs 5), so each
# figure is that phase's peak resident set.
head -c 100M /dev/urandom >"$OUT/big.bin"
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$DEMO_PID/status"; }
reset_peak() { echo 5 >"/proc/$DEMO_PID/clear_refs"; }
echo
reset_peak
echo "idle: VmRSS $(rss VmRSS) KiB, VmHWM $(rss VmHWM) KiB"
reset_peak
upload=$(curl -sS -o "$OUT/upload.json" -w '%{http_code} %{time_total}' \
  -H "Authorization: Bearer $REQUESTER" -H "Accept: application/vnd.api+json" \
  -F "ticket={\"type\":\"tickets\",\"id\":\"${TICKET}\"}" -F "upload=@$OUT/big.bin;filename=big.bin" \
  "$BASE/api/v3/attachments")
echo "upload 100 MB: HTTP/time ${upload} s; peak RSS during it $(rss VmHWM) KiB"
ATTACHMENT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["id"])' "$OUT/upload.json")
reset_peak
download=$(curl -sS -o "$OUT/back.bin" -w '%{http_code} %{time_total}' \
  -H "Authorization: Bearer $REQUESTER" "$BASE/api/v3/download/${ATTACHMENT}")
echo "download 100 MB: HTTP/time ${download} s; peak RSS during it $(rss VmHWM) KiB"
cmp -s "$OUT/big.bin" "$OUT/back.bin" && echo "downloaded file identical" || echo "DOWNLOAD DIFFERS"
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); answers other than 2xx, from /metrics:"
curl -s "$BASE/metrics" | grep '^desk_http_requests_total' | grep -v 'status="2' || echo "none"
