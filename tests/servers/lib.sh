# shellcheck shell=bash
# Shared helpers for ensure.sh and teardown.sh (sourced, not run).
#
# Address plan, per service S with index N (dns 10, ldap 11, nmbd 12, dc 13, snmp 14,
# tftp 15, l2tp 16, ftp 20, mail 21, ike 22, kdc 30, ntp 31, tls 39):
#   netns pq-S; veth pqh-S (root namespace) <-> pqn-S (inside pq-S)
#   198.18.N.1/24 host side, 198.18.N.2/24 namespace side (the target)
#   fd51:7071:0:N::1/64 host side, fd51:7071:0:N::2/64 namespace side
# State (configs, pids, logs): /run/portqry-test/S/ ; lock: /run/portqry-test/S.lock
# DC provisioning cache: /var/cache/portqry-test/

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# shellcheck disable=SC2034 # used by the scripts that source this file
STATE_ROOT=/run/portqry-test
# shellcheck disable=SC2034
CACHE_ROOT=/var/cache/portqry-test
SERVICES=(dns ldap nmbd dc snmp tftp l2tp ftp mail ike smb rdp kdc ntp tls)

die() {
  echo "portqry-servers: $*" >&2
  exit 1
}

log() {
  echo "portqry-servers: $*" >&2
}

# Fail early, with a hint, when a tool is missing.
need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' not found: run tests/servers/install.sh first"
  done
}

svc_index() {
  case $1 in
    dns) echo 10 ;;
    ldap) echo 11 ;;
    nmbd) echo 12 ;;
    dc) echo 13 ;;
    snmp) echo 14 ;;
    tftp) echo 15 ;;
    l2tp) echo 16 ;;
    ftp) echo 20 ;;
    mail) echo 21 ;;
    ike) echo 22 ;;
    smb) echo 36 ;;
    rdp) echo 37 ;;
    kdc) echo 30 ;;
    ntp) echo 31 ;;
    tls) echo 39 ;;
    *) return 1 ;;
  esac
}

# Sets NS HVETH NVETH ADDR4 HOST4 ADDR6 HOST6 STATE for service $1.
svc_vars() {
  local idx
  idx=$(svc_index "$1") || die "unknown service '$1' (known: ${SERVICES[*]})"
  NS=pq-$1
  HVETH=pqh-$1
  NVETH=pqn-$1
  ADDR4=198.18.$idx.2
  HOST4=198.18.$idx.1
  ADDR6=fd51:7071:0:$idx::2
  HOST6=fd51:7071:0:$idx::1
  STATE=$STATE_ROOT/$1
}

# Take the per-service lock on fd 9 (daemons must be started with 9>&-).
svc_lock() {
  mkdir -p "$STATE_ROOT"
  exec 9>"$STATE_ROOT/$1.lock"
  flock -w 600 9 || die "timed out waiting for the $1 lock"
}

ns_exists() {
  [[ -e /run/netns/$1 ]]
}

# The namespace, with addresses, exists and is usable.
netns_ready() {
  ns_exists "$NS" &&
    ip -n "$NS" -4 addr show dev "$NVETH" 2>/dev/null | grep -q "inet $ADDR4/" &&
    ip -4 addr show dev "$HVETH" 2>/dev/null | grep -q "inet $HOST4/"
}

# Create namespace, veth pair, addresses, resolv.conf/hosts, sysctls.
# $1: nameserver for /etc/netns/NS/resolv.conf; $2...: extra hosts lines.
netns_create() {
  local nameserver=$1
  shift
  # Leftover host-side veth (its peer's namespace is gone or deleting).
  if ip link show "$HVETH" >/dev/null 2>&1; then
    ip link del "$HVETH" 2>/dev/null || true
  fi
  mkdir -p "/etc/netns/$NS"
  printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$nameserver" >"/etc/netns/$NS/resolv.conf"
  {
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
    local line
    for line in "$@"; do
      printf '%s\n' "$line"
    done
  } >"/etc/netns/$NS/hosts"
  ip netns add "$NS"
  ip link add "$HVETH" type veth peer name "$NVETH" netns "$NS"
  ip -n "$NS" link set lo up
  ip -n "$NS" addr add "$ADDR4/24" dev "$NVETH"
  ip -n "$NS" -6 addr add "$ADDR6/64" dev "$NVETH" nodad
  ip -n "$NS" link set "$NVETH" up
  ip addr add "$HOST4/24" dev "$HVETH"
  ip -6 addr add "$HOST6/64" dev "$HVETH" nodad
  ip link set "$HVETH" up
  ip netns exec "$NS" sysctl -q -w net.ipv4.icmp_ratelimit=0
  ip netns exec "$NS" sysctl -q -w net.ipv6.icmp.ratelimit=0
  ip -n "$NS" route add default via "$HOST4" dev "$NVETH" 2>/dev/null || true
}

# Running (not gone, not a zombie waiting for the sandbox's init to reap it).
pid_running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

pid_alive_in_ns() {
  local pid=$1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_running "$pid" || return 1
  [[ $(ip netns identify "$pid" 2>/dev/null) == "$NS" ]]
}

# Pid files this service's daemons write (any *.pid under STATE/pids).
svc_pidfiles() {
  if [[ -d $STATE/pids ]]; then
    find "$STATE/pids" -maxdepth 1 -name '*.pid' \( -type f -o -type l \) 2>/dev/null
  fi
}

# All recorded daemon pids are alive inside our namespace.
daemons_alive() {
  local f pid n=0
  while IFS= read -r f; do
    [[ -n $f ]] || continue
    pid=$(tr -dc '0-9' <"$f" | head -c 10)
    pid_alive_in_ns "$pid" || return 1
    n=$((n + 1))
  done < <(svc_pidfiles)
  ((n > 0))
}

# Wait (bounded) for "$@" to succeed.
wait_until() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.3
  done
  return 1
}

tcp_open() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# Stop the service: daemons from pid files, stragglers, namespace, veth, /etc/netns.
svc_stop() {
  local f pid pids=() end
  while IFS= read -r f; do
    [[ -n $f ]] || continue
    pid=$(tr -dc '0-9' <"$f" | head -c 10)
    if pid_alive_in_ns "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$f"
  done < <(svc_pidfiles)
  end=$((SECONDS + 5))
  for pid in "${pids[@]}"; do
    while pid_running "$pid" && ((SECONDS < end)); do
      sleep 0.1
    done
  done
  if ns_exists "$NS"; then
    local try
    for try in TERM TERM KILL KILL; do
      mapfile -t pids < <(ip netns pids "$NS" 2>/dev/null)
      ((${#pids[@]})) || break
      kill "-$try" "${pids[@]}" 2>/dev/null || true
      end=$((SECONDS + 3))
      while ((SECONDS < end)) && [[ -n $(ip netns pids "$NS" 2>/dev/null) ]]; do
        sleep 0.1
      done
    done
    ip netns del "$NS" 2>/dev/null || true
  fi
  ip link del "$HVETH" 2>/dev/null || true
  end=$((SECONDS + 5))
  while ip link show "$HVETH" >/dev/null 2>&1 && ((SECONDS < end)); do
    sleep 0.1
  done
  rm -rf "/etc/netns/$NS"
}
