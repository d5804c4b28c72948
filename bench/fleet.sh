#!/usr/bin/env bash
# Many targets at once (issue 12): portqry's one engine for the whole run,
# side by side with nmap where it applies, in namespaces this script creates
# and deletes (198.19.240-247.0/24 inside them only). Run as root:
#   bench/fleet.sh [--bin PATH] [--no-nmap]
#   1  256 silent hosts x 1 TCP port (the next hop drops routed traffic):
#      portqry vs the formula ceil(probes / concurrency) x timeout x tries, and vs nmap -sT -Pn -n
#   2  4 hosts, each with Linux's default ICMP rate limit, x 30 closed UDP ports:
#      the 4 together vs one alone (every verdict checked)
#   3  a /16 of loopback addresses x 1 TCP port: every verdict printed, peak RSS
set -Eeuo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PQ= NMAP=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --bin) PQ=$2; shift 2 ;;
        --no-nmap) NMAP=0; shift ;;
        *) echo "fleet.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "fleet.sh: run as root" >&2; exit 2; }
if [[ -z $PQ ]]; then
    (cd "$REPO" && cargo build --release --locked -q)
    PQ=${CARGO_TARGET_DIR:-$REPO/target}/release/portqry
fi
P=pqf-$$
NSES=()
cleanup() { for n in "${NSES[@]}"; do ip netns del "$n" 2>/dev/null || true; done; }
trap cleanup EXIT
mkns() { ip netns add "$1"; NSES+=("$1"); ip -n "$1" link set lo up; }
secs() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
BAD=0

# client namespace, and target namespaces on their own links
mkns "$P-c"
link() { # ns net
    mkns "$1"
    ip link add "fc$2" netns "$P-c" type veth peer name "ft$2" netns "$1"
    ip -n "$P-c" addr add "198.19.$2.1/24" dev "fc$2"; ip -n "$1" addr add "198.19.$2.2/24" dev "ft$2"
    ip -n "$P-c" link set "fc$2" up; ip -n "$1" link set "ft$2" up
}

echo "== 1: 256 silent hosts x 1 TCP port"
link "$P-gw" 240
ip -n "$P-c" route add 198.19.241.0/24 via 198.19.240.2
ip netns exec "$P-gw" sysctl -qw net.ipv4.ip_forward=0   # routed packets are dropped silently
s=$(date +%s.%N); ip netns exec "$P-c" "$PQ" -n 198.19.241.0/24 -nr -e 80 --jsonl > /tmp/$P-1.json || true; e=$(date +%s.%N)
t1=$(secs "$s" "$e")
f1=$(python3 -c "import json,collections; print(dict(collections.Counter(json.loads(l)['state'] for l in open('/tmp/$P-1.json'))))")
echo "portqry: $t1 s (formula ceil(256/512) x 1 s x 3 = 3 s) $f1"
[[ $f1 == "{'filtered': 256}" ]] || BAD=1
if [[ $NMAP -eq 1 ]]; then
    s=$(date +%s.%N); ip netns exec "$P-c" nmap -sT -Pn -n -p 80 198.19.241.0/24 -oG /dev/null > /dev/null; e=$(date +%s.%N)
    tn=$(secs "$s" "$e"); echo "nmap -sT -Pn -n: $tn s; portqry / nmap = $(python3 -c "print('%.3f' % ($t1/$tn))")"
fi

echo "== 2: 4 hosts with default ICMP limits x 30 closed UDP ports"
for i in 242 243 244 245; do link "$P-t$i" $i; done
sleep 1
s=$(date +%s.%N); ip netns exec "$P-c" "$PQ" -n 198.19.242.2 -nr -r 7000:7029 -p udp -q || true; e=$(date +%s.%N)
one=$(secs "$s" "$e")
sleep 8 # the first target's bucket refills
s=$(date +%s.%N)
ip netns exec "$P-c" "$PQ" -n 198.19.242.2,198.19.243.2,198.19.244.2,198.19.245.2 -nr -r 7000:7029 -p udp --jsonl > /tmp/$P-2.json || true
e=$(date +%s.%N); four=$(secs "$s" "$e")
f2=$(python3 -c "import json,collections; print(dict(collections.Counter(json.loads(l)['state'] for l in open('/tmp/$P-2.json'))))")
echo "one target: $one s; four targets: $four s; ratio $(python3 -c "print('%.2f' % ($four/$one))") (issue: <= 1.5) $f2"
[[ $f2 == "{'not_listening': 120}" ]] || BAD=1

echo "== 3: a /16 of loopback addresses x 1 TCP port"
/usr/bin/time -f "%e s, peak RSS %M kB" ip netns exec "$P-c" "$PQ" -n 127.1.0.0/16 --max-hosts 65536 -nr -e 9 -q 2> /tmp/$P-3.time || true
cat /tmp/$P-3.time
lines=$(ip netns exec "$P-c" "$PQ" -n 127.1.0.0/16 --max-hosts 65536 -nr -e 9 | grep -c ': NOT LISTENING' || true)
echo "status lines NOT LISTENING: $lines (want 65536)"
[[ $lines -eq 65536 ]] || BAD=1
rm -f /tmp/$P-*.json /tmp/$P-3.time
exit $BAD
