#!/usr/bin/env bash
# Issue 15's checks of the Windows build, run under Wine as root (CI's Windows
# section runs it after the Windows tests):
#   1. a listener that accepts and closes at once is LISTENING, every time;
#   2. 200 dropped TCP ports in a namespace finish in a few seconds, all FILTERED
#      (the concurrent engine on WSAPoll);
#   3. -sp on a port another program holds exits 71 with PortQry's message;
#   4. the -l log file has CRLF line ends;
#   5. the reverse look-up of 127.0.0.1 names it;
#   6. Ctrl-C (SIGINT, which Wine turns into CTRL_C_EVENT) exits 130 and the log
#      keeps its end marker;
# and local mode (-local) lists a listener from the IP Helper's tables.
# Usage: scripts/wine/done-when.sh PATH/TO/portqry.exe
# Wine runs the Linux network stack underneath: these check our Windows code
# paths, not Windows' own TCP/IP (docs/DEVELOPING.md). Traffic stays on
# loopback and inside the namespaces made here (198.18.0.0/15).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exe="$(readlink -f "${1:?usage: $0 PATH/TO/portqry.exe}")"
. "$here/env.sh"
"$here/setup.sh" >/dev/null
base="$WINEPREFIX"
[ "$(id -u)" = 0 ] || { echo "done-when.sh: needs root (network namespaces)" >&2; exit 1; }

id="$$"
work="$(mktemp -d)"
nsc="pqwc-$id"
nst="pqwt-$id"
nsprefix="$work/prefix-ns"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    WINEPREFIX="$nsprefix" ip netns exec "$nsc" wineserver -k 2>/dev/null || true
    ip netns del "$nsc" 2>/dev/null || true
    ip netns del "$nst" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
pq() { wine "$exe" "$@"; }

# A Python listener: mode "close" accepts and closes each connection at once,
# "hold" only binds (holds the port). Sets $port to its port. (Not run in a
# command substitution: the cleanup must know its process.)
listener() {
    python3 -u -c '
import socket, sys, time
s = socket.socket(); s.bind(("0.0.0.0", 0))
if sys.argv[1] == "close":
    s.listen(64)
print(s.getsockname()[1], flush=True)
while True:
    if sys.argv[1] == "close":
        c, _ = s.accept(); c.close()
    else:
        time.sleep(3600)
' "$1" >"$work/$1.port" 2>/dev/null </dev/null &
    pids+=("$!")
    for _ in $(seq 50); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
    port="$(cat "$work/$1.port")"
    [ -n "$port" ] || fail "the $1 listener did not start"
}

echo "== 1. accept-and-close listener on loopback: LISTENING every time"
listener close
open_port="$port"
for i in $(seq 20); do
    rc=0
    out="$(pq -n 127.0.0.1 -nr -e "$port" 2>&1)" || rc=$?
    [ "$rc" = 0 ] && grep -q "TCP port $port (unknown service): LISTENING" <<<"$out" \
        || fail "run $i: exit $rc: $out"
done
ok "20 of 20 runs LISTENING (exit 0)"

echo "== 3. -sp on a held port: exit 71, in-use message"
listener hold
held="$port"
port="$open_port"
rc=0
err="$(pq -n 127.0.0.1 -nr -e "$port" -sp "$held" 2>&1 >/dev/null)" || rc=$?
[ "$rc" = 71 ] || fail "exit $rc: $err"
grep -q "Port is already in use." <<<"$err" || fail "no in-use message: $err"
ok "exit 71: $(tr '\n' ' ' <<<"$err")"

echo "== 4. CRLF log, 5. reverse look-up of 127.0.0.1"
log="$work/pq.log"
out="$(pq -n 127.0.0.1 -e "$port" -l 'Z:'"${log//\//\\}" -y 2>&1)" || true
lines="$(wc -l <"$log")"
crlf="$(grep -c $'\r$' "$log" || true)"
[ "$lines" -gt 5 ] && [ "$lines" = "$crlf" ] || fail "$crlf of $lines log lines end in CRLF"
grep -q $'^========= end of log file =========\r$' "$log" || fail "no end marker"
ok "$crlf of $lines log lines end in CRLF"
grep -q "IP address resolved to localhost" <<<"$out" || fail "reverse look-up: $out"
ok "$(grep 'IP address resolved to' <<<"$out")"

echo "== local mode: the IP Helper's tables list the listener"
rc=0
out="$(pq -local 2>&1)" || rc=$?
[ "$rc" = 0 ] && grep -Eq "^TCP $port +0\.0\.0\.0 +LISTENING" <<<"$out" || fail "-local: exit $rc: $out"
ok "-local lists TCP $port LISTENING"

echo "== namespaces: client ⇄ target (target drops TCP)"
ip netns add "$nsc"
ip netns add "$nst"
ip link add "w$id" netns "$nsc" type veth peer name "v$id" netns "$nst"
ip -n "$nsc" addr add 198.18.200.1/24 dev "w$id"
ip -n "$nst" addr add 198.18.200.2/24 dev "v$id"
for ns in "$nsc" "$nst"; do ip -n "$ns" link set lo up; done
ip -n "$nsc" link set "w$id" up
ip -n "$nst" link set "v$id" up
ip netns exec "$nst" iptables -A INPUT -p tcp -j DROP
# A wineserver keeps the namespace it started in: a prefix of its own here.
cp -a "$base" "$nsprefix"
nsrun() { WINEPREFIX="$nsprefix" ip netns exec "$nsc" wine "$exe" "$@"; }
nsrun -n 198.18.200.2 -nr -e 1 -q >/dev/null 2>&1 || true # start its wineserver

echo "== 2. 200 dropped TCP ports: concurrent, all FILTERED"
start="$(date +%s%N)"
rc=0
out="$(nsrun -n 198.18.200.2 -nr -r 1:200 2>&1)" || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
n="$(grep -c ': FILTERED$' <<<"$out" || true)"
[ "$rc" = 2 ] && [ "$n" = 200 ] || fail "exit $rc, $n of 200 FILTERED: $(tail -5 <<<"$out")"
# One at a time this is 200 × 3 tries × the timeout (600 s): anything near
# the engine's few seconds proves the ports ran at once.
[ "$ms" -lt 15000 ] || fail "took $ms ms"
ok "200 of 200 FILTERED, exit 2, in $ms ms"

echo "== 6. Ctrl-C: exit 130, log complete"
log2="$work/stop.log"
WINEPREFIX="$nsprefix" ip netns exec "$nsc" wine "$exe" -n 198.18.200.2 -nr -r 1:3000 --concurrency 20 \
    -l 'Z:'"${log2//\//\\}" -y >"$work/stop.out" 2>&1 &
pq_pid=$!
sleep 3
kill -INT "$pq_pid"
rc=0
wait "$pq_pid" || rc=$?
[ "$rc" = 130 ] || fail "exit $rc after SIGINT: $(tail -3 "$work/stop.out")"
grep -q $'^========= end of log file =========\r$' "$log2" || fail "log has no end marker"
ok "exit 130, log ends with its marker"
echo "all Windows checks passed"
