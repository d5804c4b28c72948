#!/usr/bin/env bash
# portqry benchmark: portqry against nmap (and nc) on the same ports, timed with
# hyperfine, against targets in network namespaces this script creates and
# deletes. See docs/BENCHMARKS.md for the figures and what limits each one.
#
# Run as root from anywhere in a clone:   bench/run.sh [options]
#
#   -s, --scenarios LIST   which scenarios, comma list of 1-4 (default 1,2,3,4)
#                          1  65535 TCP ports, target answers RST on every port
#                             (+ a --concurrency sweep)
#                          2  1000 TCP ports DROPped by iptables in the target
#                          3  N closed UDP ports, target keeps the default ICMP
#                             rate limit (+ --udp-fast)
#                          4  one open and one closed TCP port on loopback:
#                             portqry -q vs nc -z vs nmap, whole process
#   -n, --udp-ports N      N for scenario 3 (default 1000, the issue's figure: ~17 min per tool;
#                          -n 200 gives a ~7 min check)
#   -r, --runs N           hyperfine runs for scenarios 1 and 2 (default 3)
#       --udp-runs N       hyperfine runs for scenario 3 (default 1)
#       --nmap-drop-runs N hyperfine runs of nmap in scenario 2 (default 1; ~200 s each)
#       --loop-runs N      hyperfine runs for scenario 4 (default 200)
#       --concurrency L    comma list for the scenario 1 sweep (default 64,256,1024,4096)
#   -o, --out DIR          where hyperfine JSON and tool output go
#                          (default: a new /tmp/portqry-bench.XXXXXX)
#       --no-build         do not run cargo; use --bin or the usual target dir
#       --report DIR       only print the table for the results already in DIR
#       --bin PATH         portqry binary (default: $CARGO_TARGET_DIR or ./target,
#                          then release/portqry)
#
# It builds portqry in release mode (cargo build --release --locked; set
# CARGO_TARGET_DIR to build elsewhere), creates namespaces pqb-<pid>-{cli,rst,
# drop,udp} joined by veth pairs in 198.19.251-253.0/24 (inside the namespaces
# only: nothing is added to the root namespace except, for scenario 4, one
# python3 listener on 127.0.0.1), runs the scenarios, checks every verdict (counts
# of each state), prints a table of figures and ratios, and deletes what it
# created on exit, failure or Ctrl-C. Exit status: 0 if every verdict was
# right, 1 if some verdict was wrong, 2 on a setup or usage error.

set -Eeuo pipefail

die() { echo "run.sh: $*" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCENARIOS=1,2,3,4
UDP_N=1000
RUNS=3
UDP_RUNS=1
NMAP_DROP_RUNS=1
LOOP_RUNS=200
CONC=64,256,1024,4096
OUT=
BUILD=1
PQ=
REPORT=

while [[ $# -gt 0 ]]; do
    case $1 in
        -s|--scenarios) SCENARIOS=$2; shift 2 ;;
        -n|--udp-ports) UDP_N=$2; shift 2 ;;
        -r|--runs) RUNS=$2; shift 2 ;;
        --udp-runs) UDP_RUNS=$2; shift 2 ;;
        --nmap-drop-runs) NMAP_DROP_RUNS=$2; shift 2 ;;
        --loop-runs) LOOP_RUNS=$2; shift 2 ;;
        --concurrency) CONC=$2; shift 2 ;;
        -o|--out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --bin) PQ=$2; BUILD=0; shift 2 ;;
        --report) REPORT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
done

[[ $UDP_N =~ ^[0-9]+$ && $UDP_N -ge 1 && $UDP_N -le 65535 ]] || die "--udp-ports must be 1-65535"
for v in "$RUNS" "$UDP_RUNS" "$NMAP_DROP_RUNS" "$LOOP_RUNS"; do
    [[ $v =~ ^[0-9]+$ && $v -ge 1 ]] || die "run counts must be positive integers"
done
[[ $SCENARIOS =~ ^[1-4](,[1-4])*$ ]] || die "--scenarios takes a comma list of 1-4"
want() { [[ ,$SCENARIOS, == *,$1,* ]]; }

# ---- table (also: --report DIR) ------------------------------------------------
table_and_checks() {
echo
python3 - "$OUT" "$UDP_N" <<'EOF'
import json, math, os, sys
out, n = sys.argv[1], int(sys.argv[2])

def load(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return {}
    return {r["command"]: r for r in json.load(open(p))["results"]}

rows = []
def row(figure, value, target, ok):
    rows.append((figure, value, target, "met" if ok else "NOT MET"))

def m(r):
    return r["mean"]

def fmt(r):
    s = f'{r["mean"]:.3f} s'
    if r.get("stddev") is not None and len(r["times"]) > 1:
        s += f' ± {r["stddev"]:.3f}'
    return s + f' (user {r["user"]:.2f}, sys {r["system"]:.2f}, n={len(r["times"])})'

print(f"results in {out}\n")
s1 = load("s1.json")
if s1:
    pq, nm = s1["portqry -r 1:65535 (default concurrency 512)"], s1["nmap -sT -p1-65535"]
    print("S1 65535 TCP ports, RST target")
    print(f"  portqry (c=512)  {fmt(pq)}\n  nmap -sT         {fmt(nm)}")
    q = load("s1-quiet.json")
    for k, r in q.items():
        print(f"  {k:<16} {fmt(r)}")
    sweep = load("s1-sweep.json")
    best = None
    for k, r in sweep.items():
        print(f"  {k:<40} {fmt(r)}")
        if best is None or m(r) < m(best[1]):
            best = (k, r)
    row("S1 portqry / nmap -sT, 65535 RST ports", f"{m(pq)/m(nm):.3f} ({m(pq):.2f} s / {m(nm):.2f} s)", "<= 0.5", m(pq) <= 0.5 * m(nm))
    if best:
        print(f"  best concurrency: {best[0]} ({m(best[1]):.3f} s)")
        row("S1 best sweep / nmap -sT (" + best[0].split()[-1] + ")", f"{m(best[1])/m(nm):.3f}", "<= 0.5", m(best[1]) <= 0.5 * m(nm))
    print()
s2 = load("s2.json")
if s2:
    print("S2 1000 TCP ports DROPped")
    for conc, k in ((512, "portqry -r 1:1000 (default concurrency 512)"), (1024, "portqry -r 1:1000 --concurrency 1024")):
        r = s2[k]
        ideal = math.ceil(1000 / conc) * 1.0 * 3
        print(f"  {k:<40} {fmt(r)}  formula {ideal:.0f} s")
        row(f"S2 portqry c={conc} / ceil(1000/{conc})x1sx3 = {ideal:.0f} s", f"{m(r)/ideal:.3f} ({m(r):.2f} s)", "<= 1.10", m(r) <= 1.10 * ideal)
    nm = load("s2-nmap.json").get("nmap -sT -p1-1000")
    if nm:
        print(f"  nmap -sT                                 {fmt(nm)}")
        r = s2["portqry -r 1:1000 (default concurrency 512)"]
        row("S2 portqry c=512 / nmap -sT, 1000 DROP ports", f"{m(r)/m(nm):.4f} ({m(r):.2f} s / {m(nm):.1f} s)", "<= 0.05", m(r) <= 0.05 * m(nm))
        r = s2["portqry -r 1:1000 --concurrency 1024"]
        row("S2 portqry c=1024 / nmap -sT, 1000 DROP ports", f"{m(r)/m(nm):.4f} ({m(r):.2f} s / {m(nm):.1f} s)", "<= 0.05", m(r) <= 0.05 * m(nm))
    print()
s3 = load("s3.json")
if s3:
    print(f"S3 {n} closed UDP ports, default ICMP rate limit (burst ~6, then 1/s)")
    pq = s3[f"portqry -p udp -r 1:{n}"]
    fast = s3[f"portqry -p udp -r 1:{n} --udp-fast"]
    nm = s3[f"nmap -sU -p1-{n}"]
    ideal = max(n - 6, 1) * 1.0
    for k, r in s3.items():
        print(f"  {k:<40} {fmt(r)}")
    print(f"  rate-limit floor (N-6) x 1 s = {ideal:.0f} s")
    row(f"S3 portqry / nmap -sU, {n} closed UDP ports", f"{m(pq)/m(nm):.3f} ({m(pq):.1f} s / {m(nm):.1f} s)", "<= 1.0", m(pq) <= m(nm))
    row(f"S3 portqry / ICMP floor ({ideal:.0f} s)", f"{m(pq)/ideal:.3f}", "<= 1.20", m(pq) <= 1.2 * ideal)
    row(f"S3 portqry --udp-fast", f"{m(fast):.2f} s", "(report)", True)
    print()
for kind in ("open", "closed"):
    s4 = load(f"s4-{kind}.json")
    if not s4:
        continue
    print(f"S4 loopback, {kind} port, whole process")
    get = lambda pfx: next(r for k, r in s4.items() if k.startswith(pfx))
    pq, nc, nm = get("portqry"), get("nc"), get("nmap")
    for k, r in s4.items():
        print(f"  {k:<32} {r['mean']*1000:8.2f} ms ± {r['stddev']*1000:.2f}  (median {r['median']*1000:.2f}, min {r['min']*1000:.2f}, user {r['user']*1000:.2f}, sys {r['system']*1000:.2f})")
    md = lambda r: r["median"]
    row(f"S4 portqry / nc -z, {kind} port (mean; median)", f"{m(pq)/m(nc):.2f}; {md(pq)/md(nc):.2f} ({m(pq)*1000:.2f} / {m(nc)*1000:.2f} ms)", "<= 1.5", m(pq) <= 1.5 * m(nc))
    row(f"S4 portqry / nmap -sT, {kind} port", f"{m(pq)/m(nm):.3f} ({m(nm)*1000:.1f} ms)", "(report)", True)
    print()

if rows:
    w = [max(len(r[i]) for r in rows + [("figure", "measured", "target", "")]) for i in range(4)]
    hdr = ("figure", "measured", "target", "")
    print(" | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
    print("-+-".join("-" * x for x in w))
    for r in rows:
        print(" | ".join(c.ljust(w[i]) for i, c in enumerate(r)))
EOF
}
if [[ -n $REPORT ]]; then
    [[ -d $REPORT ]] || die "no results directory $REPORT"
    UDP_N=$(python3 -c 'import json,sys,re
try:
    cmds=[r["command"] for r in json.load(open(sys.argv[1]))["results"]]
    print(next(re.search(r"1:(\d+)",c).group(1) for c in cmds))
except Exception:
    print(1000)' "$REPORT/s3.json")
    OUT=$REPORT table_and_checks
    echo; cat "$REPORT/load.txt" 2>/dev/null || true
    echo; echo "verdict checks:"; cat "$REPORT/checks.txt"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, iptables, nmap -sU)"
for t in hyperfine nmap nc ip iptables python3 ss; do
    command -v "$t" >/dev/null || die "$t is not installed (apt-get install hyperfine nmap netcat-openbsd iproute2 iptables python3)"
done

if [[ -z $OUT ]]; then OUT=$(mktemp -d /tmp/portqry-bench.XXXXXX); fi
mkdir -p "$OUT"

# ---- teardown: only what this run created ------------------------------------
CREATED_NS=()
STARTED_PIDS=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in "${STARTED_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${CREATED_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null || echo "run.sh: could not delete netns $ns" >&2
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build -------------------------------------------------------------------
if [[ $BUILD -eq 1 ]]; then
    echo "== building portqry (release)" >&2
    (cd "$REPO" && cargo build --release --locked)
fi
if [[ -z $PQ ]]; then PQ=${CARGO_TARGET_DIR:-$REPO/target}/release/portqry; fi
[[ -x $PQ ]] || die "no portqry binary at $PQ"

# ---- machine -----------------------------------------------------------------
{
    echo "date:      $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "nproc:     $(nproc)"
    echo "cpu:       $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "kernel:    $(uname -r)"
    echo "portqry:   $("$PQ" --version) ($(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo "nmap:      $(nmap --version | head -1)"
    echo "hyperfine: $(hyperfine --version)"
    echo "nc:        $(dpkg-query -W -f='${Package} ${Version}' netcat-openbsd 2>/dev/null || echo '?')"
    echo "RLIMIT_NOFILE soft/hard: $(ulimit -Sn)/$(ulimit -Hn)"
    echo "icmp_ratelimit (new netns default): $(sysctl -n net.ipv4.icmp_ratelimit) ms"
} | tee "$OUT/machine.txt" >&2

# ---- namespaces --------------------------------------------------------------
P=pqb-$$
NS_CLI=$P-cli
mkns() {
    ip netns list | awk '{print $1}' | grep -qx "$1" && die "netns $1 already exists"
    ip netns add "$1"
    CREATED_NS+=("$1")
    ip -n "$1" link set lo up
}
# target namespace $1 joined to the client namespace by veth, subnet 198.19.$2.0/24:
# client .1, target .2
link_target() {
    local ns=$1 net=$2
    mkns "$ns"
    ip link add "c$net" netns "$NS_CLI" type veth peer name "t$net" netns "$ns"
    ip -n "$NS_CLI" addr add "198.19.$net.1/24" dev "c$net"
    ip -n "$ns" addr add "198.19.$net.2/24" dev "t$net"
    ip -n "$NS_CLI" link set "c$net" up
    ip -n "$ns" link set "t$net" up
}
CLI=(ip netns exec "$NS_CLI")
if want 1 || want 2 || want 3; then
    echo "== creating namespaces $P-*" >&2
    mkns "$NS_CLI"
    want 1 && link_target "$P-rst" 251
    want 2 && link_target "$P-drop" 252
    want 3 && link_target "$P-udp" 253
    if want 2; then
        ip netns exec "$P-drop" iptables -A INPUT -p tcp --dport 1:1000 -j DROP
    fi
    for net in 251 252 253; do
        ip -n "$NS_CLI" -br addr show "c$net" >/dev/null 2>&1 || continue
        # reachable = a TCP connect to port 2000 (never listened on, never dropped) is refused
        "${CLI[@]}" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(2)
try:
    s.connect((sys.argv[1], 2000))
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    pass
sys.exit(1)' "198.19.$net.2" || die "198.19.$net.2 is not reachable from $NS_CLI"
    done
    if want 3; then
        echo "target UDP netns icmp_ratelimit: $(ip netns exec "$P-udp" sysctl -n net.ipv4.icmp_ratelimit) ms," \
             "icmp_msgs_per_sec $(ip netns exec "$P-udp" sysctl -n net.ipv4.icmp_msgs_per_sec)," \
             "icmp_msgs_burst $(ip netns exec "$P-udp" sysctl -n net.ipv4.icmp_msgs_burst)" | tee -a "$OUT/machine.txt" >&2
    fi
fi
CLIS="ip netns exec $NS_CLI"

# ---- helpers -----------------------------------------------------------------
BAD=0
CHECKS=$OUT/checks.txt
: >"$CHECKS"
# counts of "state" in a portqry --jsonl file, e.g. "not_listening=65535"
pq_counts() {
    python3 - "$1" <<'EOF'
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    o = json.loads(line)
    c[o.get("state", "error")] += 1
    if o.get("note") == "ICMP rate-limited, not verified":
        c["(unverified)"] += 1
    elif o.get("note"):
        c["(re-probed)"] += 1
print(" ".join(f"{k}={v}" for k, v in sorted(c.items())) or "nothing")
EOF
}
# counts of states in an nmap -oG file, e.g. "closed=65535"
nmap_counts() {
    python3 - "$1" <<'EOF'
import re, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    m = re.search(r"Ports: (.*?)(\t|$)", line)
    if m:
        for p in m.group(1).split(", "):
            f = p.split("/")
            if len(f) > 1:
                c[f[1]] += 1
    m = re.search(r"Ignored State: (\S+) \((\d+)\)", line)
    if m:
        c[m.group(1)] += int(m.group(2))
print(" ".join(f"{k}={v}" for k, v in sorted(c.items())) or "nothing")
EOF
}
# check LABEL GOT WANT: GOT must contain WANT as its whole set of states
check() {
    local label=$1 got=$2 want=$3 got_states
    got_states=$(tr ' ' '\n' <<<"$got" | grep -v '^(' | tr '\n' ' ' | sed 's/ $//')
    if [[ $got_states == "$want" ]]; then
        echo "OK    $label: $got" | tee -a "$CHECKS"
    else
        echo "WRONG $label: got [$got], want [$want]" | tee -a "$CHECKS"
        BAD=1
    fi
}
# -i: portqry exits 1 or 2 by design (NOT LISTENING, FILTERED); the verdict checks catch real failures
# peer LABEL GOT WANT: the same comparison for nmap/nc; a peer's wrong answer is
# reported (PEER-WRONG) but does not fail the run: it is the baseline, not the subject.
peer() {
    local label=$1 got=$2 want=$3
    if [[ $got == "$want" ]]; then
        echo "OK    $label: $got" | tee -a "$CHECKS"
    else
        echo "PEER-WRONG $label: got [$got], want [$want]" | tee -a "$CHECKS"
    fi
}
hf() { hyperfine --style basic -i "$@"; }
# The machine may be shared: keep the load average next to each scenario's figures.
load() { echo "$1 start: loadavg $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt" >&2; }

# ---- scenario 1: 65535 TCP ports, RST on every port --------------------------
if want 1; then
    load "scenario 1"
    T=198.19.251.2
    echo "== scenario 1: 65535 TCP ports on $T (nothing listens, RST on every port)" >&2
    hf --runs "$RUNS" --warmup 1 --export-json "$OUT/s1.json" \
        -n "portqry -r 1:65535 (default concurrency 512)" \
        "$CLIS $PQ -n $T -nr -r 1:65535 --jsonl > $OUT/s1-portqry.jsonl" \
        -n "nmap -sT -p1-65535" \
        "$CLIS nmap -sT -n -Pn -p1-65535 -oG $OUT/s1-nmap.gnmap $T > /dev/null"
    check "s1 portqry" "$(pq_counts "$OUT/s1-portqry.jsonl")" "not_listening=65535"
    peer "s1 nmap" "$(nmap_counts "$OUT/s1-nmap.gnmap")" "closed=65535"
    hf --runs "$RUNS" --warmup 1 --export-json "$OUT/s1-sweep.json" -L c "$CONC" \
        -n "portqry -r 1:65535 --concurrency {c}" \
        "$CLIS $PQ -n $T -nr -r 1:65535 --concurrency {c} --jsonl > $OUT/s1-c{c}.jsonl"
    for c in ${CONC//,/ }; do
        check "s1 portqry --concurrency $c" "$(pq_counts "$OUT/s1-c$c.jsonl")" "not_listening=65535"
    done
    # Same run with -q (no output at all), to see what printing 65535 lines costs.
    hf --runs "$RUNS" --warmup 1 --export-json "$OUT/s1-quiet.json" \
        -n "portqry -r 1:65535 -q" "$CLIS $PQ -n $T -nr -r 1:65535 -q"
    if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
        perf stat -o "$OUT/s1-perf-portqry.txt" -e task-clock,context-switches,cpu-migrations \
            "${CLI[@]}" "$PQ" -n $T -nr -r 1:65535 -q || true
        perf stat -o "$OUT/s1-perf-nmap.txt" -e task-clock,context-switches,cpu-migrations \
            "${CLI[@]}" nmap -sT -n -Pn -p1-65535 $T >/dev/null || true
    fi
fi

# ---- scenario 2: 1000 TCP ports DROPped --------------------------------------
if want 2; then
    load "scenario 2"
    T=198.19.252.2
    echo "== scenario 2: 1000 TCP ports on $T, all DROPped by iptables" >&2
    hf --runs "$RUNS" --export-json "$OUT/s2.json" \
        -n "portqry -r 1:1000 (default concurrency 512)" \
        "$CLIS $PQ -n $T -nr -r 1:1000 --jsonl > $OUT/s2-portqry.jsonl" \
        -n "portqry -r 1:1000 --concurrency 1024" \
        "$CLIS $PQ -n $T -nr -r 1:1000 --concurrency 1024 --jsonl > $OUT/s2-portqry-c1024.jsonl"
    check "s2 portqry" "$(pq_counts "$OUT/s2-portqry.jsonl")" "filtered=1000"
    check "s2 portqry --concurrency 1024" "$(pq_counts "$OUT/s2-portqry-c1024.jsonl")" "filtered=1000"
    hf --runs "$NMAP_DROP_RUNS" --export-json "$OUT/s2-nmap.json" \
        -n "nmap -sT -p1-1000" \
        "$CLIS nmap -sT -n -Pn -p1-1000 -oG $OUT/s2-nmap.gnmap $T > /dev/null"
    peer "s2 nmap" "$(nmap_counts "$OUT/s2-nmap.gnmap")" "filtered=1000"
fi

# ---- scenario 3: N closed UDP ports, default ICMP rate limit -----------------
if want 3; then
    load "scenario 3"
    T=198.19.253.2
    echo "== scenario 3: $UDP_N closed UDP ports (1:$UDP_N) on $T, default ICMP rate limit" >&2
    # Let the target's ICMP token bucket refill (6 tokens at 1/s) before every run.
    hf --runs "$UDP_RUNS" --prepare "sleep 7" --export-json "$OUT/s3.json" \
        -n "portqry -p udp -r 1:$UDP_N" \
        "$CLIS $PQ -n $T -nr -p udp -r 1:$UDP_N --jsonl > $OUT/s3-portqry.jsonl" \
        -n "portqry -p udp -r 1:$UDP_N --udp-fast" \
        "$CLIS $PQ -n $T -nr -p udp -r 1:$UDP_N --udp-fast --jsonl > $OUT/s3-portqry-fast.jsonl" \
        -n "nmap -sU -p1-$UDP_N" \
        "$CLIS nmap -sU -n -Pn -p1-$UDP_N -oG $OUT/s3-nmap.gnmap $T > /dev/null"
    check "s3 portqry" "$(pq_counts "$OUT/s3-portqry.jsonl")" "not_listening=$UDP_N"
    # --udp-fast is allowed to leave ports unverified; record its counts, no verdict.
    echo "INFO  s3 portqry --udp-fast: $(pq_counts "$OUT/s3-portqry-fast.jsonl")" | tee -a "$CHECKS"
    peer "s3 nmap" "$(nmap_counts "$OUT/s3-nmap.gnmap")" "closed=$UDP_N"
fi

# ---- scenario 4: one port on loopback, whole process -------------------------
if want 4; then
    load "scenario 4"
    free_port() {
        local p=$1
        while ss -Htan "sport = :$p" | grep -q .; do p=$((p + 1)); done
        echo "$p"
    }
    OPEN=$(free_port 47211)
    CLOSED=$(free_port $((OPEN + 1)))
    # The listener accepts and closes at once, with a deep accept queue: nc -lk
    # listens with a backlog of 1, and a full queue drops the SYN, which costs a
    # 1 s retransmission to whichever client meets it (seen once in 110 runs).
    python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4096)
while True:
    c, _ = s.accept()
    c.close()' "$OPEN" </dev/null >/dev/null 2>&1 &
    STARTED_PIDS+=($!)
    for _ in $(seq 50); do ss -Htln "sport = :$OPEN" | grep -q . && break; sleep 0.1; done
    ss -Htln "sport = :$OPEN" | grep -q . || die "listener on 127.0.0.1:$OPEN did not start"
    echo "== scenario 4: loopback, open port $OPEN (python3 listener, pid ${STARTED_PIDS[-1]}), closed port $CLOSED" >&2
    # exit codes first: portqry -q 0 = LISTENING, 1 = NOT LISTENING; nc -z 0/1
    set +e
    "$PQ" -n 127.0.0.1 -nr -e "$OPEN" -q; a=$?
    "$PQ" -n 127.0.0.1 -nr -e "$CLOSED" -q; b=$?
    nc -z -w1 127.0.0.1 "$OPEN"; c=$?
    nc -z -w1 127.0.0.1 "$CLOSED"; d=$?
    no=$(nmap -sT -n -Pn -p "$OPEN" -oG - 127.0.0.1 | grep -o "$OPEN/[a-z|]*" || true)
    nc_=$(nmap -sT -n -Pn -p "$CLOSED" -oG - 127.0.0.1 | grep -o "$CLOSED/[a-z|]*" || true)
    set -e
    check "s4 portqry open (exit code)" "exit=$a" "exit=0"
    check "s4 portqry closed (exit code)" "exit=$b" "exit=1"
    peer "s4 nc open (exit code)" "exit=$c" "exit=0"
    peer "s4 nc closed (exit code)" "exit=$d" "exit=1"
    peer "s4 nmap open" "$no" "$OPEN/open"
    peer "s4 nmap closed" "$nc_" "$CLOSED/closed"
    for kind in open closed; do
        if [[ $kind == open ]]; then port=$OPEN; else port=$CLOSED; fi
        hf -N --warmup 10 --runs "$LOOP_RUNS" --export-json "$OUT/s4-$kind.json" \
            -n "portqry -e $port -q ($kind)" "$PQ -n 127.0.0.1 -nr -e $port -q" \
            -n "nc -z -w1 ($kind)" "nc -z -w1 127.0.0.1 $port" \
            -n "nmap -sT -p $port ($kind)" "nmap -sT -n -Pn -p $port 127.0.0.1"
    done
fi

table_and_checks
echo
cat "$OUT/load.txt" 2>/dev/null || true
echo
echo "verdict checks:"
cat "$CHECKS"
[[ $BAD -eq 0 ]] || { echo "run.sh: some verdicts were WRONG (see above)" >&2; exit 1; }
