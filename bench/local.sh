#!/usr/bin/env bash
# Local mode speed (issue 13): `portqry -local` against `ss -tanup` in a
# network namespace holding 10 000 sockets (5000 TCP listeners, 5000 bound
# UDP sockets, one python3 process), both timed by hyperfine. Creates and
# deletes its namespace. Run as root:  bench/local.sh [--bin PATH] [-n SOCKETS]
set -Eeuo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PQ= N=10000
while [[ $# -gt 0 ]]; do
    case $1 in
        --bin) PQ=$2; shift 2 ;;
        -n) N=$2; shift 2 ;;
        *) echo "local.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "local.sh: run as root" >&2; exit 2; }
if [[ -z $PQ ]]; then
    (cd "$REPO" && cargo build --release --locked -q)
    PQ=${CARGO_TARGET_DIR:-$REPO/target}/release/portqry
fi
NS=pqlocal-$$
HOLDER=
cleanup() { [[ -n $HOLDER ]] && kill "$HOLDER" 2>/dev/null; ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ulimit -n $((N + 1000))
ip netns exec "$NS" python3 - "$N" <<'PY' &
import socket, sys, time
n = int(sys.argv[1]); held = []
for i in range(n // 2):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(1); held.append(t)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); held.append(u)
print("ready", flush=True)
time.sleep(600)
PY
HOLDER=$!
for _ in $(seq 100); do
    c=$(ip netns exec "$NS" ss -H -tuan | wc -l)
    [[ $c -ge $N ]] && break
    sleep 0.2
done
echo "sockets in $NS: $(ip netns exec "$NS" ss -H -tuan | wc -l)"
found=$(ip netns exec "$NS" "$PQ" -local | grep -m1 'active ports found' || true)
echo "portqry -local: $found"
hyperfine -N --warmup 1 --runs 10 --style basic \
    "ip netns exec $NS $PQ -local" \
    "ip netns exec $NS ss -tanup"
