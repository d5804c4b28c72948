#!/opt/portqry-venv/bin/python
"""Independent reference dump of a DCE/RPC endpoint mapper over ncacn_ip_tcp (impacket).

usage: /opt/portqry-venv/bin/python epm_dump.py [--max-ents N] ADDR [PORT]

Loops ept_lookup (inquiry RPC_C_EP_ALL_ELTS) until the server returns a null context
handle (Windows) or status ept_s_not_registered 0x16c9a0d6 (Samba's end of the list),
then prints one line per endpoint, sorted:
    <interface uuid> v<major>.<minor> <string binding>
and finally `total N`.  Calls and the end status go to stderr.
"""
import argparse
import sys

from impacket.dcerpc.v5 import epm, transport
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.uuid import bin_to_string

EPT_S_NOT_REGISTERED = 0x16C9A0D6


def binding_of(floors):
    try:
        return epm.PrintStringBinding(floors)
    except Exception as e:  # unusual towers must not stop the dump
        return "unparsed_tower(%s)" % e


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("addr")
    ap.add_argument("port", nargs="?", type=int, default=135)
    ap.add_argument("--max-ents", type=int, default=500)
    ap.add_argument("--max-calls", type=int, default=1000)
    a = ap.parse_args()

    rpct = transport.DCERPCTransportFactory("ncacn_ip_tcp:%s[%d]" % (a.addr, a.port))
    rpct.set_connect_timeout(5)
    dce = rpct.get_dce_rpc()
    dce.connect()
    dce.bind(epm.MSRPC_UUID_PORTMAP)

    lines = []
    handle = epm.ept_lookup_handle_t()
    calls = 0
    end = None
    while calls < a.max_calls:
        calls += 1
        req = epm.ept_lookup()
        req["inquiry_type"] = epm.RPC_C_EP_ALL_ELTS
        req["object"] = epm.NULL
        req["Ifid"] = epm.NULL
        req["vers_option"] = epm.RPC_C_VERS_ALL
        req["entry_handle"] = handle
        req["max_ents"] = a.max_ents
        try:
            resp = dce.request(req, checkError=False)
        except DCERPCException as e:  # a fault PDU
            if e.get_error_code() == EPT_S_NOT_REGISTERED:
                end = "fault ept_s_not_registered"
                break
            raise
        status = resp["status"]
        for i in range(resp["num_ents"]):
            entry = resp["entries"][i]
            tower = epm.EPMTower(b"".join(entry["tower"]["tower_octet_string"]))
            floors = tower["Floors"]
            f0 = floors[0]
            iface = "%s v%d.%d" % (
                bin_to_string(f0["InterfaceUUID"]).lower(),
                f0["MajorVersion"],
                f0["MinorVersion"],
            )
            lines.append("%s %s" % (iface, binding_of(floors)))
        handle = resp["entry_handle"]
        if status == EPT_S_NOT_REGISTERED:
            end = "status ept_s_not_registered (0x16c9a0d6)"
            break
        if status != 0:
            raise SystemExit("ept_lookup failed: status 0x%08x" % status)
        if handle.isNull():
            end = "null entry handle"
            break
        if resp["num_ents"] == 0:
            end = "num_ents 0"
            break
    else:
        raise SystemExit("no end of list after %d calls" % a.max_calls)
    dce.disconnect()

    for line in sorted(lines):
        print(line)
    print("total %d" % len(lines))
    print("epm_dump: %d ept_lookup calls, end: %s" % (calls, end), file=sys.stderr)


if __name__ == "__main__":
    main()
