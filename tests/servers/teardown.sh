#!/usr/bin/env bash
# teardown.sh [SERVICE...|all]: stop what ensure.sh started (daemons from their pid
# files, then any straggler in the namespace), delete the namespace, the veth and
# /etc/netns/NAME. Idempotent; succeeds when nothing is up. Default: all.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root"
if [[ $# -eq 0 || " $* " == *" all "* ]]; then
  set -- "${SERVICES[@]}"
fi
for svc in "$@"; do
  svc_vars "$svc"
  svc_lock "$svc"
  svc_stop
  exec 9>&-
done
