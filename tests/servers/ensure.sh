#!/usr/bin/env bash
# ensure.sh SERVICE: make sure SERVICE (dns|ldap|nmbd|dc|snmp|tftp|l2tp|ftp|mail|ike|smb|rdp|kdc|ntp|tls) runs in its own network
# namespace and answers; print its IPv4 target address (only that) on stdout.
# Idempotent and safe to call concurrently (per-service lock). Run as root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

[[ $# -eq 1 ]] || die "usage: ensure.sh dns|ldap|nmbd|dc|snmp|tftp|l2tp|ftp|mail|ike|smb|rdp|kdc|ntp|tls"
[[ $(id -u) -eq 0 ]] || die "must run as root"
SVC=$1
svc_vars "$SVC"

DC_ADMINPASS='PortQry-Test-Pass1'

# ---------------------------------------------------------------- dns
check_dns() {
  local a
  a=$(dig +time=1 +tries=1 +short "@$ADDR4" dc1.portqry.test A) && [[ $a == "$ADDR4" ]] &&
    a=$(dig +tcp +time=1 +tries=1 +short "@$ADDR4" dc1.portqry.test A) && [[ $a == "$ADDR4" ]]
}

start_dns() {
  netns_create "$ADDR4" "$ADDR4	dc1.portqry.test dc1"
  mkdir -p "$STATE/pids"
  cat >"$STATE/dnsmasq.conf" <<EOF
# portqry test DNS server (dnsmasq), no upstream.
port=53
listen-address=$ADDR4
listen-address=$ADDR6
bind-interfaces
no-resolv
no-hosts
no-poll
no-negcache
local-ttl=60
local=/portqry.test/
host-record=dc1.portqry.test,$ADDR4,$ADDR6
host-record=ns1.portqry.test,$ADDR4
txt-record=portqry.test,"portqry test zone"
srv-host=_ldap._tcp.portqry.test,dc1.portqry.test,389,0,100
user=root
group=root
pid-file=$STATE/pids/dnsmasq.pid
log-facility=$STATE/dnsmasq.log
log-queries
EOF
  ip netns exec "$NS" dnsmasq --conf-file="$STATE/dnsmasq.conf" \
    </dev/null >>"$STATE/start.log" 2>&1 9>&-
}

# ---------------------------------------------------------------- ldap
check_ldap() {
  ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "ldap://$ADDR4" -b '' -s base namingContexts |
    grep -q '^namingContexts: dc=portqry,dc=test'
}

start_ldap() {
  netns_create 127.0.0.1 "$ADDR4	ldap.portqry.test ldap"
  mkdir -p "$STATE/pids" "$STATE/db"
  cat >"$STATE/slapd.conf" <<EOF
# portqry test LDAP server (slapd -f)
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $STATE/pids/slapd.pid
argsfile $STATE/slapd.args
loglevel stats
access to * by * read

database mdb
maxsize 16777216
suffix "dc=portqry,dc=test"
rootdn "cn=admin,dc=portqry,dc=test"
rootpw portqry
directory $STATE/db

database monitor
EOF
  cat >"$STATE/data.ldif" <<'EOF'
dn: dc=portqry,dc=test
objectClass: top
objectClass: dcObject
objectClass: organization
o: PortQry Test
dc: portqry

dn: ou=people,dc=portqry,dc=test
objectClass: organizationalUnit
ou: people

dn: cn=alice,ou=people,dc=portqry,dc=test
objectClass: inetOrgPerson
cn: alice
sn: Example
mail: alice@portqry.test
EOF
  slapadd -q -f "$STATE/slapd.conf" -l "$STATE/data.ldif" >>"$STATE/start.log" 2>&1 ||
    fail "slapadd failed"
  ip netns exec "$NS" slapd -f "$STATE/slapd.conf" -h "ldap://$ADDR4:389/ ldap://[$ADDR6]:389/" \
    -d stats </dev/null >>"$STATE/slapd.log" 2>&1 9>&- &
  # slapd -d stays in the foreground (so its log goes to slapd.log); it writes its pid file.
  disown
}

# ---------------------------------------------------------------- nmbd
check_nmbd() {
  nmblookup -s /dev/null -A "$ADDR4" 2>/dev/null | grep -q 'PQNMBD'
}

# Run "$@" inside the namespace, in a private mount namespace whose /run/samba is $STATE/run-samba.
samba_exec() {
  mkdir -p "$STATE/run-samba" /run/samba
  # shellcheck disable=SC2016 # expanded by the inner sh
  ip netns exec "$NS" unshare -m --propagation private \
    sh -c 'mount --bind "$0" /run/samba && exec "$@"' "$STATE/run-samba" "$@"
}

start_nmbd() {
  netns_create 127.0.0.1 "$ADDR4	pqnmbd.portqry.test pqnmbd"
  local d
  for d in pids lock state cache private log ncalrpc; do
    mkdir -p "$STATE/$d"
  done
  cat >"$STATE/smb.conf" <<EOF
# portqry test NetBIOS name server (nmbd alone)
[global]
  netbios name = PQNMBD
  workgroup = PORTQRY
  server string = portqry test nmbd
  server role = standalone server
  interfaces = $ADDR4/24
  bind interfaces only = yes
  disable netbios = no
  local master = no
  domain master = no
  preferred master = no
  wins support = no
  dns proxy = no
  pid directory = $STATE/pids
  lock directory = $STATE/lock
  state directory = $STATE/state
  cache directory = $STATE/cache
  private dir = $STATE/private
  ncalrpc dir = $STATE/ncalrpc
  log file = $STATE/log/log.%m
  logging = file
  log level = 1
EOF
  samba_exec nmbd -D -s "$STATE/smb.conf" </dev/null >>"$STATE/start.log" 2>&1 9>&-
}

# ---------------------------------------------------------------- dc
CLDAP_PY=$HERE/cldap_rootdse.py

check_dc() {
  ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "ldap://$ADDR4" -b '' -s base dnsHostName 2>/dev/null |
    grep -qi '^dnsHostName: dc1.portqry.test' || return 1
  /usr/bin/python3 "$CLDAP_PY" --quiet "$ADDR4" || return 1
  tcp_open "$ADDR4" 135 || return 1
  [[ $(dig +time=1 +tries=1 +short "@$ADDR4" dc1.portqry.test A) == "$ADDR4" ]] || return 1
  nmblookup -s /dev/null -A "$ADDR4" 2>/dev/null | grep -q 'DC1 ' || return 1
}

# Everything that defines the provisioned directory: a change invalidates the cache.
dc_provision_args() {
  local target=$1
  printf '%s\n' domain provision -s /dev/null \
    --realm=PORTQRY.TEST --domain=PORTQRY --server-role=dc \
    --dns-backend=SAMBA_INTERNAL --host-name=dc1 \
    --host-ip="$ADDR4" --host-ip6="$ADDR6" \
    --adminpass="$DC_ADMINPASS" --targetdir="$target" \
    --option="interfaces = lo $ADDR4/24 $ADDR6/64" \
    --option="bind interfaces only = yes" \
    --option="dns forwarder = " \
    --option="disable netbios = no" \
    --option="pid directory = $target/pids" \
    --option="ncalrpc dir = $target/ncalrpc" \
    --option="winbindd socket directory = $target/winbindd" \
    --option="ntp signd socket directory = $target/ntp_signd" \
    --option="log file = $target/log/log.samba" \
    --option="logging = file" \
    --option="dns update command = /bin/true" \
    --option="spn update command = /bin/true"
}

# Bump when the provisioned tree's layout changes.
DC_CACHE_VERSION=2

dc_cache_key() {
  {
    echo "$DC_CACHE_VERSION"
    dpkg-query -W -f='${Version}\n' samba
    dc_provision_args "$STATE/samba"
  } | sha256sum | cut -c1-16
}

start_dc() {
  netns_create "$ADDR4" "$ADDR4	dc1.portqry.test dc1"
  local key cache target=$STATE/samba
  key=$(dc_cache_key)
  cache=$CACHE_ROOT/dc-$key
  rm -rf "$target"
  mkdir -p "$STATE"
  if [[ -d $cache/samba ]]; then
    cp -a "$cache/samba" "$target"
  else
    log "provisioning the AD DC (first time, ~10 s) into $target"
    local args
    mapfile -t args < <(dc_provision_args "$target")
    mkdir -p "$target"
    if ! samba_exec samba-tool "${args[@]}" </dev/null >"$STATE/provision.log" 2>&1 9>&-; then
      tail -n 40 "$STATE/provision.log" >&2
      fail "samba-tool domain provision failed (log: $STATE/provision.log)"
    fi
    # Samba creates the other directories itself, with the modes it insists on.
    mkdir -p "$target/pids" "$target/log"
    rm -rf "$CACHE_ROOT"/dc-*.tmp
    mkdir -p "$CACHE_ROOT"
    cp -a "$target" "$cache.tmp"
    mkdir -p "$cache"
    mv "$cache.tmp" "$cache/samba"
  fi
  mkdir -p "$STATE/pids"
  # samba writes its pid file into $target/pids; teardown reads STATE/pids.
  samba_exec samba -D -s "$target/etc/smb.conf" </dev/null >>"$STATE/start.log" 2>&1 9>&-
  local end=$((SECONDS + 20)) f
  while ((SECONDS < end)); do
    f=$(find "$target/pids" -maxdepth 1 -name 'samba*.pid' -type f 2>/dev/null | head -n 1)
    if [[ -n $f ]]; then
      ln -sf "$f" "$STATE/pids/samba.pid"
      return 0
    fi
    sleep 0.2
  done
  fail "samba wrote no pid file"
}

# ---------------------------------------------------------------- snmp
SNMP_COMMUNITY=portqry-test

check_snmp() {
  snmpget -v2c -c "$SNMP_COMMUNITY" -t 1 -r 0 -Oqv "$ADDR4" 1.3.6.1.2.1.1.5.0 2>/dev/null |
    grep -q '^"\?pq-snmp.portqry.test"\?$'
}

start_snmp() {
  netns_create 127.0.0.1 "$ADDR4	pq-snmp.portqry.test pq-snmp"
  mkdir -p "$STATE/pids" "$STATE/persist"
  # Only this file (-C): no AgentX master, no listener outside the namespace address.
  cat >"$STATE/snmpd.conf" <<EOF
# portqry test SNMP agent (net-snmp snmpd -C -c)
agentaddress udp:$ADDR4:161,udp6:[$ADDR6]:161
rocommunity $SNMP_COMMUNITY default
rocommunity6 $SNMP_COMMUNITY default
sysName pq-snmp.portqry.test
sysLocation portqry test namespace pq-snmp
sysContact portqry tests
EOF
  # The persistent dir holds the engine ID and boot counter (default: /var/lib/snmp).
  ip netns exec "$NS" env SNMP_PERSISTENT_DIR="$STATE/persist" MIBS= \
    snmpd -C -c "$STATE/snmpd.conf" -p "$STATE/pids/snmpd.pid" -Lf "$STATE/snmpd.log" \
    </dev/null >>"$STATE/start.log" 2>&1 9>&-
}

# ---------------------------------------------------------------- tftp
check_tftp() {
  # The server's own "not found" for a name that cannot exist (the root is empty).
  timeout 5 tftp -m octet "$ADDR4" -c get portqry-ensure-check /dev/null 2>&1 |
    grep -q '^Error code 1: File not found'
}

start_tftp() {
  netns_create 127.0.0.1 "$ADDR4	pq-tftp.portqry.test pq-tftp"
  mkdir -p "$STATE/pids" "$STATE/root"
  # An empty, world-readable root; --secure chroots there as the tftp user.
  chmod 755 "$STATE/root"
  ip netns exec "$NS" in.tftpd --listen --address "$ADDR4:69" --secure --verbose \
    --pidfile "$STATE/pids/in.tftpd.pid" "$STATE/root" \
    </dev/null >>"$STATE/start.log" 2>&1 9>&-
}

# ---------------------------------------------------------------- l2tp
L2TP_HOSTNAME=pq-lns.portqry.test

check_l2tp() {
  ip netns exec "$NS" ss -Hunl "sport = :1701" | grep -q "$ADDR4:1701"
}

start_l2tp() {
  netns_create 127.0.0.1 "$ADDR4	pq-lns.portqry.test pq-lns"
  mkdir -p "$STATE/pids"
  # An LNS that answers any SCCRQ (no tunnel secret, no access control); no call
  # ever reaches pppd, so no ppp options are needed.
  cat >"$STATE/xl2tpd.conf" <<EOF
; portqry test LNS (xl2tpd -D -c)
[global]
listen-addr = $ADDR4
port = 1701
auth file = $STATE/l2tp-secrets
access control = no
debug tunnel = yes
debug state = yes
debug avp = yes

[lns default]
hostname = $L2TP_HOSTNAME
ip range = 198.18.16.100-198.18.16.110
local ip = 198.18.16.99
require authentication = no
refuse pap = yes
refuse chap = yes
EOF
  : >"$STATE/l2tp-secrets"
  chmod 600 "$STATE/l2tp-secrets"
  # -D keeps it in the foreground so its log (stderr: no syslog here) goes to xl2tpd.log.
  ip netns exec "$NS" xl2tpd -D -c "$STATE/xl2tpd.conf" -p "$STATE/pids/xl2tpd.pid" \
    -C "$STATE/l2tp-control" </dev/null >>"$STATE/xl2tpd.log" 2>&1 9>&- &
  disown
}

# ---------------------------------------------------------------- ike
IKE_CHARON=/usr/lib/ipsec/charon

check_ike() {
  # charon binds the wildcard address.
  ip netns exec "$NS" ss -Hunl "sport = :500" | grep -q "0.0.0.0:500" &&
    swanctl --list-conns --uri "unix://$STATE/charon.vici" 2>/dev/null | grep -q '^pq:'
}

# Load the connection once charon's vici socket is up.
ike_load() {
  [[ -S $STATE/charon.vici ]] &&
    STRONGSWAN_CONF=$STATE/strongswan.conf swanctl --load-all --noprompt --file "$STATE/swanctl.conf" \
      --uri "unix://$STATE/charon.vici" \
      >>"$STATE/start.log" 2>&1
}

start_ike() {
  [[ -x $IKE_CHARON ]] || die "$IKE_CHARON not found: run tests/servers/install.sh first"
  netns_create 127.0.0.1 "$ADDR4	pq-gw.portqry.test pq-gw"
  mkdir -p "$STATE/pids"
  # charon itself, without starter or systemd: its own strongswan.conf (no
  # strongswan.d includes) loads only plugins Debian's strongswan-charon ships that
  # a PSK responder needs; the vici socket and the log live in $STATE.
  cat >"$STATE/strongswan.conf" <<EOF
# portqry test IKE responder (charon + swanctl)
charon {
  load = random nonce aes sha1 sha2 hmac gmp pem pkcs1 x509 pubkey kdf kernel-netlink socket-default vici
  port = 500
  port_nat_t = 4500
  send_vendor_id = yes
  install_routes = no
  # The tests leave many half-open SAs from one address: no COOKIE demands (DoS
  # protection past 30 half-open SAs), no dropping past 5 from one address.
  dos_protection = no
  cookie_threshold = 0
  block_threshold = 0
  plugins {
    vici {
      socket = unix://$STATE/charon.vici
    }
  }
  filelog {
    pq {
      path = $STATE/charon.log
      default = 1
      ike = 2
      net = 2
      flush_line = yes
    }
  }
}
swanctl {
  load = pem pkcs1 x509 pubkey
}
EOF
  # One connection: IKEv2, PSK, proposal aes256-sha256-modp2048 (all in our offer).
  cat >"$STATE/swanctl.conf" <<EOF
connections {
  pq {
    version = 2
    local_addrs = $ADDR4
    proposals = aes256-sha256-modp2048
    local {
      auth = psk
      id = pq-gw.portqry.test
    }
    remote {
      auth = psk
    }
    children {
      pq {
        esp_proposals = aes256-sha256
      }
    }
  }
}
secrets {
  ike-pq {
    secret = "portqry-test-psk"
  }
}
EOF
  # ip netns exec execs charon, so $! is charon's pid (charon writes no pid file
  # of ours; its own goes to /run/charon.pid inside the shared /run).
  STRONGSWAN_CONF=$STATE/strongswan.conf ip netns exec "$NS" "$IKE_CHARON" \
    </dev/null >>"$STATE/start.log" 2>&1 9>&- &
  echo $! >"$STATE/pids/charon.pid"
  disown
  wait_until 10 ike_load || true
}
# ---------------------------------------------------------------- ftp, mail
# The server at $1:$2 greets with a line starting with $3; say goodbye with $4.
greets() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r line <&3 && [[ $line == "$2"* ]] &&
    printf "%s\r\n" "$3" >&3' "$@" 2>/dev/null
}

check_ftp() {
  # An anonymous directory listing: logon, passive data connection, LIST.
  timeout 5 curl -s -o /dev/null "ftp://$ADDR4/"
}

start_ftp() {
  netns_create 127.0.0.1 "$ADDR4	pq-ftp.portqry.test pq-ftp"
  mkdir -p "$STATE/pids" "$STATE/root" "$STATE/empty"
  # vsftpd refuses a root or secure_chroot_dir the ftp user could write to.
  chmod 755 "$STATE/root" "$STATE/empty"
  # A two-line banner_file: vsftpd sends a multi-line 220 reply (RFC 959 §4.2).
  printf '%s\n' 'portqry test FTP server (vsftpd).' 'Anonymous access only; nothing to download.' \
    >"$STATE/banner"
  cat >"$STATE/vsftpd.conf" <<EOF
# portqry test FTP server (vsftpd, foreground)
listen=YES
listen_ipv6=NO
listen_address=$ADDR4
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
anon_root=$STATE/root
secure_chroot_dir=$STATE/empty
banner_file=$STATE/banner
xferlog_enable=YES
log_ftp_protocol=YES
xferlog_std_format=NO
vsftpd_log_file=$STATE/vsftpd.log
syslog_enable=NO
seccomp_sandbox=NO
EOF
  # ip netns exec execs vsftpd: $! is the daemon's pid.
  ip netns exec "$NS" vsftpd "$STATE/vsftpd.conf" </dev/null >>"$STATE/start.log" 2>&1 9>&- &
  echo $! >"$STATE/pids/vsftpd.pid"
  disown
}

MAIL_HOSTNAME=pq-mail.portqry.test

check_mail() {
  greets "$ADDR4" 25 "220 $MAIL_HOSTNAME ESMTP" QUIT &&
    greets "$ADDR4" 587 "220 $MAIL_HOSTNAME ESMTP" QUIT &&
    greets "$ADDR4" 110 "+OK " QUIT &&
    greets "$ADDR4" 143 "* OK " "a1 LOGOUT"
}

start_mail() {
  netns_create 127.0.0.1 "$ADDR4	$MAIL_HOSTNAME pq-mail"
  mkdir -p "$STATE/pids" "$STATE/dovecot" "$STATE/mail"
  # OpenSMTPD: SMTP on 25 without TLS, and on 587 offering STARTTLS (a
  # self-signed certificate for the name and the address); it would take mail
  # for local users, none is sent.
  mkdir -p "$STATE/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout "$STATE/tls/key.pem" \
    -out "$STATE/tls/cert.pem" -subj "/O=portqry mail/CN=$MAIL_HOSTNAME" \
    -addext "subjectAltName=DNS:$MAIL_HOSTNAME,IP:$ADDR4" >>"$STATE/start.log" 2>&1 ||
    fail "openssl could not make the mail certificate"
  chmod 600 "$STATE/tls/key.pem"
  cat >"$STATE/smtpd.conf" <<EOF
# portqry test SMTP server (OpenSMTPD smtpd -d -f)
pki $MAIL_HOSTNAME cert "$STATE/tls/cert.pem"
pki $MAIL_HOSTNAME key "$STATE/tls/key.pem"
listen on $ADDR4 port 25 hostname $MAIL_HOSTNAME
listen on $ADDR4 port 587 tls pki $MAIL_HOSTNAME hostname $MAIL_HOSTNAME
action "local" mbox
match from any for local action "local"
EOF
  # -d keeps it in the foreground, logging to stderr; ip netns exec execs it.
  ip netns exec "$NS" smtpd -d -f "$STATE/smtpd.conf" </dev/null >>"$STATE/smtpd.log" 2>&1 9>&- &
  echo $! >"$STATE/pids/smtpd.pid"
  disown
  # Dovecot: POP3 on 110 and IMAP on 143, offering STLS / STARTTLS with the
  # same certificate (no imaps/pop3s ports); an empty user list (nobody logs in).
  : >"$STATE/users"
  cat >"$STATE/dovecot.conf" <<EOF
# portqry test POP3/IMAP server (dovecot -c)
protocols = imap pop3
listen = $ADDR4
base_dir = $STATE/dovecot
state_dir = $STATE/dovecot/state
instance_name = portqry-test-mail
log_path = $STATE/dovecot.log
ssl = yes
ssl_cert = <$STATE/tls/cert.pem
ssl_key = <$STATE/tls/key.pem
login_greeting = portqry test mail server ready.
mail_location = maildir:$STATE/mail/%u
passdb {
  driver = passwd-file
  args = $STATE/users
}
userdb {
  driver = passwd-file
  args = $STATE/users
}
service imap-login {
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3s {
    port = 0
  }
}
EOF
  ip netns exec "$NS" dovecot -c "$STATE/dovecot.conf" </dev/null >>"$STATE/start.log" 2>&1 9>&-
  local end=$((SECONDS + 10))
  while ((SECONDS < end)); do
    if [[ -s $STATE/dovecot/master.pid ]]; then
      ln -sf "$STATE/dovecot/master.pid" "$STATE/pids/dovecot.pid"
      return 0
    fi
    sleep 0.2
  done
  fail "dovecot wrote no pid file"
}

# ---------------------------------------------------------------- smb
# Three standalone smbd instances, one per port, to show what a NEGOTIATE tells apart:
# 445 Samba's defaults (signing enabled, not required; up to 3.1.1), 1445 `server
# signing = mandatory`, 2445 `server max protocol = SMB2_02` (2.0.2, no contexts).
SMB_PORTS=(445 1445 2445)

check_smb() {
  local port
  for port in "${SMB_PORTS[@]}"; do
    # An anonymous share list needs a NEGOTIATE, a session and IPC$: the server works.
    timeout 5 smbclient -N -g -L "//$ADDR4" -p "$port" -s /dev/null 2>/dev/null | grep -q '^IPC|IPC\$' || return 1
  done
}

start_smb() {
  netns_create 127.0.0.1 "$ADDR4	pqsmb.portqry.test pqsmb"
  mkdir -p "$STATE/pids"
  local port dir extra d
  for port in "${SMB_PORTS[@]}"; do
    dir=$STATE/smbd-$port
    for d in pids lock state cache private log ncalrpc; do
      mkdir -p "$dir/$d"
    done
    case $port in
      1445) extra='server signing = mandatory' ;;
      2445) extra='server max protocol = SMB2_02' ;;
      *) extra='' ;;
    esac
    cat >"$dir/smb.conf" <<EOF
# portqry test SMB server (standalone smbd on port $port)
[global]
  netbios name = PQSMB
  workgroup = PORTQRY
  server string = portqry test smbd $port
  server role = standalone server
  interfaces = $ADDR4/24
  bind interfaces only = yes
  smb ports = $port
  disable netbios = yes
  map to guest = bad user
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  pid directory = $dir/pids
  lock directory = $dir/lock
  state directory = $dir/state
  cache directory = $dir/cache
  private dir = $dir/private
  ncalrpc dir = $dir/ncalrpc
  log file = $dir/log/log.%m
  logging = file
  log level = 1
  $extra
EOF
    samba_exec smbd -D -s "$dir/smb.conf" </dev/null >>"$STATE/start.log" 2>&1 9>&-
  done
  # smbd names its pid file after the config file; link each into pids/.
  local end=$((SECONDS + 10)) f
  for port in "${SMB_PORTS[@]}"; do
    until f=$(find "$STATE/smbd-$port/pids" -name 'smbd*.pid' -size +0 | head -n 1) && [[ -n $f ]]; do
      ((SECONDS < end)) || fail "smbd on port $port wrote no pid file"
      sleep 0.2
    done
    ln -sf "$f" "$STATE/pids/smbd-$port.pid"
  done
}

# ---------------------------------------------------------------- rdp
# Three xrdp instances (no sesman: only the X.224 negotiation is asked), one per
# security_layer: 3389 negotiate, 3390 rdp (Standard RDP Security only), 3391 tls.
RDP_PORTS=(3389 3390 3391)

check_rdp() {
  local port
  for port in "${RDP_PORTS[@]}"; do
    # Our Connection Request (TLS|CredSSP|CredSSP EX); any X.224 Connection Confirm will do.
    timeout 3 python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
s.sendall(bytes.fromhex("030000130ee00000000000010008000b000000"))
sys.exit(0 if s.recv(64)[5:6] == b"\xd0" else 1)' "$ADDR4" "$port" || return 1
  done
}

start_rdp() {
  netns_create 127.0.0.1 "$ADDR4	pq-rdp.portqry.test pq-rdp"
  mkdir -p "$STATE/pids"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=pq-rdp.portqry.test \
    -keyout "$STATE/key.pem" -out "$STATE/cert.pem" >>"$STATE/start.log" 2>&1 || fail "openssl req failed"
  local port layer dir
  for port in "${RDP_PORTS[@]}"; do
    case $port in
      3390) layer=rdp ;;
      3391) layer=tls ;;
      *) layer=negotiate ;;
    esac
    dir=$STATE/xrdp-$port
    mkdir -p "$dir/run"
    cat >"$dir/xrdp.ini" <<EOF
; portqry test RDP server (xrdp, security_layer=$layer, no sesman)
[Globals]
ini_version=1
fork=true
port=$port
security_layer=$layer
crypt_level=high
certificate=$STATE/cert.pem
key_file=$STATE/key.pem
ssl_protocols=TLSv1.2, TLSv1.3

[Logging]
LogFile=$STATE/xrdp-$port.log
LogLevel=DEBUG
EnableSyslog=false
EnableConsole=false

[Xorg]
name=Xorg
lib=libxup.so
username=ask
password=ask
ip=127.0.0.1
port=-1
code=20
EOF
    # xrdp keeps its pid file in /run/xrdp (compiled in): a private mount per instance.
    # shellcheck disable=SC2016 # expanded by the inner sh
    ip netns exec "$NS" unshare -m --propagation private \
      sh -c 'mount --bind "$0" /run/xrdp && exec xrdp --nodaemon --config "$1"' "$dir/run" "$dir/xrdp.ini" \
      </dev/null >>"$STATE/start.log" 2>&1 9>&- &
    echo $! >"$STATE/pids/xrdp-$port.pid"
    disown
  done
}

# ---------------------------------------------------------------- kdc
# An MIT KDC (krb5kdc, 88) and kadmind (kpasswd, 464) for realm PQKDC.TEST, apart
# from the Samba DC's PORTQRY.TEST: a second implementation for the Kerberos query.
KDC_REALM=PQKDC.TEST

kdc_env() {
  env KRB5_CONFIG="$STATE/krb5.conf" KRB5_KDC_PROFILE="$STATE/kdc.conf" "$@"
}

check_kdc() {
  # kinit for a principal that does not exist: the KDC's own "not found" (no password asked).
  local out
  out=$(kdc_env kinit portqry-ensure-check </dev/null 2>&1) || true
  [[ $out == *"not found in Kerberos database"* ]] &&
    ip netns exec "$NS" ss -Hunl "sport = :464" | grep -q ":464" &&
    ip netns exec "$NS" ss -Htnl "sport = :464" | grep -q ":464"
}

start_kdc() {
  netns_create 127.0.0.1 "$ADDR4	kdc1.pqkdc.test kdc1"
  mkdir -p "$STATE/pids" "$STATE/db"
  cat >"$STATE/krb5.conf" <<EOF
# portqry test MIT KDC: client side (kinit, kdb5_util)
[libdefaults]
  default_realm = $KDC_REALM
  dns_lookup_kdc = false
  dns_lookup_realm = false
[realms]
  $KDC_REALM = {
    kdc = $ADDR4
    admin_server = $ADDR4
    kpasswd_server = $ADDR4
  }
EOF
  cat >"$STATE/kdc.conf" <<EOF
# portqry test MIT KDC (krb5kdc, kadmind)
[kdcdefaults]
  kdc_listen = $ADDR4:88
  kdc_tcp_listen = $ADDR4:88
[realms]
  $KDC_REALM = {
    database_name = $STATE/db/principal
    key_stash_file = $STATE/db/stash
    acl_file = $STATE/kadm5.acl
    kadmind_listen = $ADDR4:749
    kpasswd_listen = $ADDR4:464
    max_life = 10h 0m 0s
  }
[logging]
  kdc = FILE:$STATE/krb5kdc.log
  admin_server = FILE:$STATE/kadmind.log
EOF
  : >"$STATE/kadm5.acl"
  kdc_env kdb5_util create -s -r "$KDC_REALM" -P portqry-test-master </dev/null \
    >>"$STATE/start.log" 2>&1 || fail "kdb5_util create failed"
  ip netns exec "$NS" env KRB5_CONFIG="$STATE/krb5.conf" KRB5_KDC_PROFILE="$STATE/kdc.conf" \
    krb5kdc -P "$STATE/pids/krb5kdc.pid" </dev/null >>"$STATE/start.log" 2>&1 9>&-
  ip netns exec "$NS" env KRB5_CONFIG="$STATE/krb5.conf" KRB5_KDC_PROFILE="$STATE/kdc.conf" \
    kadmind -P "$STATE/pids/kadmind.pid" </dev/null >>"$STATE/start.log" 2>&1 9>&-
}

# ---------------------------------------------------------------- ntp
check_ntp() {
  # sntp asks once and prints the stratum ("s10": our "local stratum 10").
  timeout 5 sntp -t 2 "$ADDR4" 2>/dev/null | grep -q " s10 "
}

start_ntp() {
  netns_create 127.0.0.1 "$ADDR4	pq-ntp.portqry.test pq-ntp"
  mkdir -p "$STATE/pids" "$STATE/lib"
  # A server from its local clock only (no sources); -x: never touch the clock.
  cat >"$STATE/chrony.conf" <<EOF
# portqry test NTP server (chronyd -x -f)
bindaddress $ADDR4
port 123
local stratum 10
allow all
cmdport 0
pidfile $STATE/pids/chronyd.pid
driftfile $STATE/lib/drift
logdir $STATE
EOF
  ip netns exec "$NS" chronyd -x -f "$STATE/chrony.conf" </dev/null >>"$STATE/start.log" 2>&1 9>&-
}

# ---------------------------------------------------------------- tls
# openssl s_server three times: 443 with a certificate from a test CA made here (valid a
# year, SANs pq-tls.portqry.test and the address; ALPN http/1.1), 636 with one that
# expired in 2020 (the LDAPS outage), 4433 speaking TLS 1.0 only. 3269 is dropped
# (FILTERED), 8443 closed.
TLS_NAME=pq-tls.portqry.test

check_tls() {
  local p
  for p in 443 636; do
    timeout 3 openssl s_client -connect "$ADDR4:$p" </dev/null 2>/dev/null | grep -q 'BEGIN CERTIFICATE' ||
      return 1
  done
  tcp_open "$ADDR4" 4433
}

start_tls() {
  netns_create 127.0.0.1 "$ADDR4	$TLS_NAME pq-tls"
  mkdir -p "$STATE/pids" "$STATE/ca/new"
  local d=$STATE
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
    -out "$d/ca.pem" -days 3650 -subj '/CN=portqry test CA/O=portqry tests' >>"$d/start.log" 2>&1
  printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\n' "$TLS_NAME" "$ADDR4" >"$d/ext.cnf"
  local which
  for which in valid expired; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$which.key" \
      -out "$d/$which.csr" -subj "/CN=$TLS_NAME/O=portqry $which" >>"$d/start.log" 2>&1
  done
  openssl x509 -req -in "$d/valid.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial 0x5101 \
    -days 365 -extfile "$d/ext.cnf" -out "$d/valid.pem" >>"$d/start.log" 2>&1
  # openssl 3.0's x509 cannot back-date; `openssl ca` takes explicit start and end dates.
  : >"$d/ca/index.txt"
  echo 5102 >"$d/ca/serial"
  cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = $d/ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/new
certificate = $d/ca.pem
private_key = $d/ca.key
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = server
[any]
commonName = supplied
organizationName = optional
[server]
subjectAltName = DNS:$TLS_NAME,IP:$ADDR4
extendedKeyUsage = serverAuth
EOF
  openssl ca -batch -config "$d/ca.cnf" -in "$d/expired.csr" -out "$d/expired.pem" -notext \
    -startdate 20200101000000Z -enddate 20200131000000Z >>"$d/start.log" 2>&1
  ip netns exec "$NS" iptables -A INPUT -p tcp --dport 3269 -j DROP
  local port
  for port in 443 636; do
    which=valid
    [[ $port == 636 ]] && which=expired
    # -cert_chain: the CA certificate is sent too (a two-certificate chain).
    ip netns exec "$NS" openssl s_server -accept "$ADDR4:$port" -cert "$d/$which.pem" \
      -key "$d/$which.key" -cert_chain "$d/ca.pem" -alpn http/1.1 -quiet -naccept 100000 \
      </dev/null >>"$d/s_server-$port.log" 2>&1 9>&- &
    echo $! >"$d/pids/s_server-$port.pid"
    disown
  done
  # 4433: a TLS 1.0-only server (OpenSSL 3 needs security level 0 for it), what old
  # DCs and appliances still run; it answers TLS 1.2+ with a protocol_version alert.
  ip netns exec "$NS" openssl s_server -accept "$ADDR4:4433" -cert "$d/valid.pem" -key "$d/valid.key" \
    -tls1 -cipher 'DEFAULT:@SECLEVEL=0' -quiet -naccept 100000 \
    </dev/null >>"$d/s_server-4433.log" 2>&1 9>&- &
  echo $! >"$d/pids/s_server-4433.pid"
  disown
}

# ---------------------------------------------------------------- common
fail() {
  echo "ensure.sh $SVC: $*" >&2
  local f
  for f in "$STATE"/*.log "$STATE"/log/log.* "$STATE"/samba/log/log.*; do
    [[ -f $f ]] || continue
    echo "----- $f (last 30 lines)" >&2
    tail -n 30 "$f" >&2
  done
  exit 1
}

need ip flock unshare timeout
case $SVC in
  dns) need dnsmasq dig ;;
  ldap) need slapd slapadd ldapsearch ;;
  nmbd) need nmbd nmblookup ;;
  dc) need samba samba-tool ldapsearch dig nmblookup python3 ;;
  snmp) need snmpd snmpget ;;
  tftp) need in.tftpd tftp ;;
  l2tp) need xl2tpd ss ;;
  ftp) need vsftpd curl ;;
  mail) need smtpd dovecot openssl ;;
  ike) need swanctl ss ;;
  smb) need smbd smbclient ;;
  rdp) need xrdp openssl python3 ;;
  kdc) need krb5kdc kadmind kdb5_util kinit ss ;;
  ntp) need chronyd sntp ;;
  tls) need openssl iptables ;;
esac
case $SVC in
  dc) WAIT=120 ;;
  *) WAIT=30 ;;
esac

svc_lock "$SVC"

if netns_ready && daemons_alive && "check_$SVC" >/dev/null 2>&1; then
  echo "$ADDR4"
  exit 0
fi

svc_stop
rm -rf "$STATE"
mkdir -p "$STATE"
"start_$SVC"
end=$((SECONDS + WAIT))
grace=$((SECONDS + 5))
until "check_$SVC" >/dev/null 2>&1; do
  if ((SECONDS >= end)); then
    fail "not answering after ${WAIT}s"
  fi
  # Daemons write their pid files within a few seconds; fail fast when they died.
  if ((SECONDS >= grace)) && ! daemons_alive; then
    fail "daemon exited (or wrote no pid file)"
  fi
  sleep 0.3
done
daemons_alive || fail "daemon pid file missing or process not in $NS"
echo "$ADDR4"
