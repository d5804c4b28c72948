#!/usr/bin/env bash
# Install everything the real-server fixtures and the reference clients need.
# Idempotent and quick when everything is already present. Run as root.
set -euo pipefail

VENV=/opt/portqry-venv
PKGS=(
  samba samba-ad-dc samba-ad-provision samba-common-bin winbind smbclient
  dnsmasq-base slapd ldap-utils bind9-dnsutils tshark iptables iproute2 nmap
  krb5-user python3-venv util-linux procps groff-base hyperfine netcat-openbsd
  snmpd snmp tftpd-hpa tftp-hpa xl2tpd vsftpd opensmtpd dovecot-pop3d dovecot-imapd curl
  strongswan-charon strongswan-swanctl
  tmux
  xrdp
  krb5-kdc krb5-admin-server chrony sntp
  openssl
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: must run as root" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) != installed ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install.sh: installing ${missing[*]}" >&2
  # Keep package scripts from starting daemons in the root namespace.
  policy=/usr/sbin/policy-rc.d
  had_policy=0
  if [[ -e $policy ]]; then
    had_policy=1
    cp -a "$policy" "$policy.portqry-saved"
  fi
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  restore_policy() {
    if ((had_policy)); then
      mv -f "$policy.portqry-saved" "$policy"
    else
      rm -f "$policy"
    fi
  }
  trap restore_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
  echo 'krb5-config krb5-config/default_realm string PORTQRY.TEST' | debconf-set-selections
  # Update once per run (and only when something is missing).
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  restore_policy
  trap - EXIT
fi

# Python venv with impacket for the endpoint-mapper reference dump.
if ! "$VENV/bin/python" -c 'import impacket.dcerpc.v5.epm' 2>/dev/null; then
  echo "install.sh: creating $VENV with impacket" >&2
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q impacket >&2
  "$VENV/bin/python" -c 'import impacket.dcerpc.v5.epm'
fi

echo "install.sh: ok" >&2
