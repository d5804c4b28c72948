#!/usr/bin/env bash
# Scenario 5: targets that rate-limit their refusals (issue 16). portqry and
# nmap on the same ports of the same target, each case in fresh namespaces
# this script creates and deletes (198.19.250.0/24, inside them only).
#
# Run as root from a clone:   bench/rate_limits.sh [--no-nmap] [--bin PATH]
#
#   a  1000 closed UDP ports, host-wide ICMP limit 200/s burst 50 (per-peer off)
#   b  the same at 10000/s
#   c  500 dropped + 500 closed UDP ports at 200/s (ranges)
#   d  1000 closed TCP ports, RSTs limited to 200/s burst 50 (iptables limit,
#      DROP beyond: FreeBSD's "Limiting closed port RST response")
#
# Prints each tool's wall time, its verdict counts (checked: every verdict
# must be right), the floor N ÷ R where it applies, and the ratios. Exit 0 if
# every portqry verdict was right, 1 otherwise, 2 on a setup error.
set -Eeuo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NMAP=1
PQ=
while [[ $# -gt 0 ]]; do
    case $1 in
        --no-nmap) NMAP=0; shift ;;
        --bin) PQ=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "rate_limits.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "rate_limits.sh: run as root" >&2; exit 2; }
if [[ -z $PQ ]]; then
    (cd "$REPO" && cargo build --release --locked -q)
    PQ=${CARGO_TARGET_DIR:-$REPO/target}/release/portqry
fi
OUT=$(mktemp -d /tmp/portqry-rl.XXXXXX)
C=pqrl-$$-c T=pqrl-$$-t
cleanup() { ip netns del "$C" 2>/dev/null || true; ip netns del "$T" 2>/dev/null || true; }
trap cleanup EXIT

lab() { # fresh client/target pair
    cleanup
    ip netns add "$C"; ip netns add "$T"
    ip link add rlc netns "$C" type veth peer name rlt netns "$T"
    ip -n "$C" addr add 198.19.250.1/24 dev rlc; ip -n "$T" addr add 198.19.250.2/24 dev rlt
    for n in "$C" "$T"; do ip -n "$n" link set lo up; done
    ip -n "$C" link set rlc up; ip -n "$T" link set rlt up
    ip netns exec "$T" sysctl -qw net.ipv4.icmp_ratelimit=0
}
limit() { ip netns exec "$T" sysctl -qw "net.ipv4.icmp_msgs_per_sec=$1" net.ipv4.icmp_msgs_burst=50; }
secs() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

BAD=0
printf '%-4s %-44s %9s %9s %7s %9s %7s\n' case what portqry floor ratio nmap ratio
run_case() { # id description proto want-python floor
    local id=$1 what=$2 proto=$3 want=$4 floor=$5
    sleep 2 # let the target's bucket refill
    local s e pq_t nm_t=- ratio_nm=-
    s=$(date +%s.%N)
    ip netns exec "$C" "$PQ" -n 198.19.250.2 -nr -r 1000:1999 -p "$proto" --jsonl >"$OUT/$id.jsonl" || true
    e=$(date +%s.%N); pq_t=$(secs "$s" "$e")
    local verdict
    verdict=$(python3 - "$OUT/$id.jsonl" <<PY
import json, sys, collections
want = lambda p: $want
c = collections.Counter(); wrong = 0
for l in open(sys.argv[1]):
    v = json.loads(l); c[v["state"]] += 1
    wrong += v["state"] != want(v["port"])
print(("ok " if wrong == 0 and sum(c.values()) == 1000 else "WRONG=%d " % wrong) + ",".join("%s=%d" % kv for kv in sorted(c.items())))
PY
)
    [[ $verdict == ok* ]] || BAD=1
    if [[ $NMAP -eq 1 ]]; then
        sleep 2
        local flag=-sT; [[ $proto == udp ]] && flag=-sU
        s=$(date +%s.%N)
        ip netns exec "$C" nmap -n -Pn $flag -p 1000-1999 --max-retries 10 198.19.250.2 -oX "$OUT/$id.xml" >/dev/null
        e=$(date +%s.%N); nm_t=$(secs "$s" "$e")
        ratio_nm=$(python3 -c "print('%.3f' % ($pq_t / $nm_t))")
        # nmap's verdicts: listed ports plus the "extraports" it summarises.
        echo "$id nmap: $(python3 - "$OUT/$id.xml" <<'PY'
import sys, collections, xml.etree.ElementTree as ET
c = collections.Counter()
for e in ET.parse(sys.argv[1]).iter():
    if e.tag == "extraports":
        c[e.get("state")] += int(e.get("count"))
    elif e.tag == "port":
        c[e.find("state").get("state")] += 1
print(", ".join("%s=%d" % kv for kv in sorted(c.items())))
PY
)" >>"$OUT/nmap.txt"
    fi
    local ratio_fl=-
    [[ $floor != - ]] && ratio_fl=$(python3 -c "print('%.2f' % ($pq_t / $floor))")
    printf '%-4s %-44s %8ss %8s %7s %8ss %7s   %s\n' "$id" "$what" "$pq_t" "$floor" "$ratio_fl" "$nm_t" "$ratio_nm" "$verdict"
}

lab; limit 200
run_case a "1000 closed UDP, host-wide 200/s burst 50" udp '"not_listening"' 5
lab; limit 10000
# Linux's host-wide limiter refills at most every 20 ms, capped at the burst:
# 50 per 20 ms = 2500/s at most, so the floor is 0.4 s.
run_case b "1000 closed UDP, host-wide 10000/s burst 50" udp '"not_listening"' 0.4
lab; limit 200; ip netns exec "$T" iptables -A INPUT -p udp --dport 1500:1999 -j DROP
run_case c "500 dropped + 500 closed UDP at 200/s" udp '"not_listening" if p < 1500 else ("filtered" if p == 1701 else "listening_or_filtered")' 2.5
lab
ip netns exec "$T" iptables -A INPUT -p tcp --syn -m limit --limit 200/s --limit-burst 50 -j REJECT --reject-with tcp-reset
ip netns exec "$T" iptables -A INPUT -p tcp -j DROP
run_case d "1000 closed TCP, RSTs limited to 200/s" tcp '"not_listening"' 5
[[ $NMAP -eq 1 ]] && cat "$OUT/nmap.txt"
echo "outputs in $OUT"
exit $BAD
