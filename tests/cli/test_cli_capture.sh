#!/bin/sh
# energywire capture on sample captures of our own conversations, written by
# tests/tools/mkcapture: text and --json output, filters, the summary, keys
# from the environment, a file and argv, key logs, exit codes.  POSIX sh,
# grep, sed and awk; JSON lines are parsed with python3 or jq when present.
# EW_BIN: the tool; MKCAPTURE: the sample writer.
EW=${EW_BIN:-energywire}
MK=${MKCAPTURE:-mkcapture}
T=$(mktemp -d)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
nok() { fail=$((fail + 1)); echo "not ok - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }
trap 'rm -rf "$T"' EXIT INT TERM

# Parses every line of a file as JSON.
json_lines() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json,sys
for l in open(sys.argv[1]):
    json.loads(l)' "$1"
    elif command -v jq >/dev/null 2>&1; then
        jq -e . "$1" >/dev/null
    else
        return 2
    fi
}

"$MK" "$T" >"$T/mk.out" 2>&1; rc=$?
check "mkcapture writes the samples" '[ $rc -eq 0 ] && [ -s "$T/rscp.pcap" ] && [ -s "$T/ep.keys" ]'
unset E3DC_RSCP_KEY SSLKEYLOGFILE
C="$EW capture --no-progress"

# ---- RSCP ------------------------------------------------------------------
E3DC_RSCP_KEY=my-rscp-key $C "$T/rscp.pcap" >"$T/r1" 2>"$T/r1e"; rc=$?
check "rscp: key from E3DC_RSCP_KEY, exit 0" '[ $rc -eq 0 ]'
check "rscp: a frame block with time, flow, direction, protocol" \
    'grep -q "^2023-11-14T22:13:2[0-9]\.[0-9][0-9][0-9]Z flow 1 client->device rscp frame$" "$T/r1"'
check "rscp: answers come device->client" 'grep -q "flow 1 device->client rscp frame" "$T/r1"'
check "rscp: the value tree has tag names, types and values" \
    'grep -q "EMS_POWER_PV.*Int32" "$T/r1" && grep -q "EMS_BAT_SOC" "$T/r1"'
check "rscp: the login password is masked" \
    'grep -q "AUTHENTICATION_PASSWORD.*\*\*\*\*\*\*\*\*" "$T/r1" && ! grep -q secret-portal-password "$T/r1"'
check "rscp: no warning without --key" '! grep -q "command line" "$T/r1e"'
check "rscp: summary counts the rscp flow and frames" \
    'grep -q "^  flows 1: rscp 1," "$T/r1" && grep -q "^  frames: rscp [1-9][0-9]*, rct 0, ep 0$" "$T/r1"'
check "rscp: summary shows no errors" 'grep -q "^  errors 0$" "$T/r1"'

$C "$T/rscp.pcap" --key my-rscp-key >"$T/r2" 2>"$T/r2e"; rc=$?
check "rscp: --key works, with a warning that argv is visible" \
    '[ $rc -eq 0 ] && grep -q "EMS_POWER_PV" "$T/r2" && grep -q "warning: .*command line" "$T/r2e"'

$C "$T/rscp.pcap" --key-file "$T/rscp.key" --show-secrets >"$T/r3" 2>&1; rc=$?
check "rscp: --key-file and --show-secrets shows the password" \
    '[ $rc -eq 0 ] && grep -q "secret-portal-password" "$T/r3"'

$C "$T/rscp.pcap" >"$T/r4" 2>&1; rc=$?
check "rscp: no key: an ERROR line, no values, exit 0" \
    '[ $rc -eq 0 ] && grep -q " ERROR " "$T/r4" && ! grep -q "EMS_POWER_PV" "$T/r4"'

E3DC_RSCP_KEY=wrong-key $C "$T/rscp.pcap" >"$T/r5" 2>&1; rc=$?
check "rscp: wrong key: EW_ERR_DECRYPT and no frames" \
    '[ $rc -eq 0 ] && grep -q "ERROR EW_ERR_DECRYPT" "$T/r5" && ! grep -q "rscp frame$" "$T/r5" && grep -q "EW_ERR_DECRYPT [1-9]" "$T/r5"'

E3DC_RSCP_KEY=my-rscp-key $C --json "$T/rscp.pcap" >"$T/j1" 2>"$T/j1e"; rc=$?
json_lines "$T/j1"; jrc=$?
if [ $jrc -eq 2 ]; then
    echo "ok - --json lines parse # SKIP no python3 or jq"
else
    check "--json: every line is a JSON object" '[ $rc -eq 0 ] && [ $jrc -eq 0 ]'
fi
check "--json: frame objects carry flow, dir, proto and the value tree" \
    'grep -q "\"type\":\"frame\",\"flow\":1,\"proto\":\"rscp\",\"dir\":\"client->device\"" "$T/j1" && grep -q "\"values\":\[{\"tag\":" "$T/j1"'
check "--json: the password is masked" '! grep -q secret-portal-password "$T/j1"'
check "--json: the summary goes to stderr as JSON" \
    'grep -q "^{\"summary\":true,\"complete\":true," "$T/j1e" && ! grep -q "summary" "$T/j1"'
check "--json: the summary has frames per protocol" \
    'grep -q "\"frames_by_proto\":{\"none\":0,\"rscp\":[1-9]" "$T/j1e"'

# ---- RCT -------------------------------------------------------------------
$C "$T/rct.pcapng" >"$T/c1" 2>&1; rc=$?
check "rct: exit 0, IPv6 flow" '[ $rc -eq 0 ] && grep -q "flow 1: rct \[fd00::20\]:41000 -> \[fd00::30\]:8899" "$T/c1"'
check "rct: command, object name and value with unit" \
    'grep -q "RESPONSE battery.soc (0x959930BF) = 0\.[0-9]* %, CRC ok" "$T/c1"'
check "rct: the matched request latency" 'grep -q "answered after [0-9.]* ms" "$T/c1"'
check "rct: the CRC-broken answer is flagged" 'grep -q "CRC MISMATCH" "$T/c1"'
check "rct: the cut answer is a device fault" 'grep -q "device fault" "$T/c1"'
check "rct: retransmissions counted" 'grep -q "retransmissions [1-9]" "$T/c1"'
$C --json "$T/rct.pcapng" >"$T/c2" 2>/dev/null
check "rct --json: value, crc, latency, flags" \
    'grep -q "\"name\":\"battery.soc\",\"crc\":\"ok\",\"unit\":\"%\",.*\"value\":0\.[0-9]*}$" "$T/c2" && grep -q "\"latency_us\":[0-9]" "$T/c2" && grep -q "\"flags\":\[\"crc_bad\"\]" "$T/c2"'

# ---- EP over TLS -------------------------------------------------------------
$C "$T/ep.pcap" --keylog "$T/ep.keys" >"$T/e1" 2>&1; rc=$?
check "ep: with the key log, exit 0" '[ $rc -eq 0 ]'
check "ep: a TLS summary line" 'grep -q " ep TLS: " "$T/e1"'
check "ep: decrypted messages with their fields" \
    'grep -q "client->device ep frame" "$T/e1" && grep -q "Demand" "$T/e1" && grep -q "Storage" "$T/e1"'
check "ep: the key log secrets are not printed" \
    '! grep -q "$(awk "NR==1{print \$3}" "$T/ep.keys")" "$T/e1"'
SSLKEYLOGFILE="$T/ep.keys" $C "$T/ep.pcap" >"$T/e2" 2>&1; rc=$?
check "ep: key log from SSLKEYLOGFILE" '[ $rc -eq 0 ] && grep -q "Demand" "$T/e2"'
$C "$T/ep.pcap" >"$T/e3" 2>&1; rc=$?
check "ep: without a key log: TLS summary, says a key log is needed" \
    '[ $rc -eq 0 ] && grep -q " TLS: " "$T/e3" && grep -qi "key log" "$T/e3" && ! grep -q "ep frame" "$T/e3"'

# ---- filters -----------------------------------------------------------------
M="$T/mixed.pcapng"
export E3DC_RSCP_KEY=my-rscp-key
$C "$M" --keylog "$T/ep.keys" >"$T/m0" 2>&1; rc=$?
check "mixed: three flows, all decoded" \
    '[ $rc -eq 0 ] && grep -q "^  flows 3: rscp 1, rct 1, ep 1," "$T/m0"'
$C "$M" --keylog "$T/ep.keys" --filter rct >"$T/m1" 2>&1
check "--filter rct: only RCT records" \
    'grep -q "rct frame" "$T/m1" && ! grep -q "rscp frame" "$T/m1" && ! grep -q "ep frame" "$T/m1"'
$C "$M" --keylog "$T/ep.keys" --filter 'not rscp and port 56540' >"$T/m2" 2>&1
check "--filter not/and/port" \
    'grep -q "ep frame" "$T/m2" && ! grep -q "rct frame" "$T/m2" && ! grep -q "rscp frame" "$T/m2"'
$C "$M" --keylog "$T/ep.keys" --filter 'host 192.168.178.51 or (flow 1 and rscp)' >"$T/m3" 2>&1
check "--filter host/or/parentheses" \
    'grep -q "rct frame" "$T/m3" && grep -q "rscp frame" "$T/m3" && ! grep -q "ep frame" "$T/m3"'
$C "$M" --filter 'flow 2' >"$T/m4" 2>&1
check "--filter flow N" 'grep -q "flow 2 " "$T/m4" && ! grep -q "flow [13] " "$T/m4"'
$C "$M" --filter 'errors' >"$T/m5" 2>&1
check "--filter errors: the CRC-broken and the cut RCT answer only" \
    'grep -q "CRC MISMATCH" "$T/m5" && grep -q "device fault" "$T/m5" && [ "$(grep -c "rct frame" "$T/m5")" -eq 2 ]'
$C "$M" --filter 'port' >"$T/m6" 2>&1; rc=$?
check "--filter with a missing value: exit 2" '[ $rc -eq 2 ] && grep -q "needs a value" "$T/m6"'
$C "$M" --filter 'rscp and (rct' >/dev/null 2>&1; rc=$?
check "--filter with an unclosed parenthesis: exit 2" '[ $rc -eq 2 ]'
$C "$M" --filter 'bogus' >/dev/null 2>&1; rc=$?
check "--filter with an unknown word: exit 2" '[ $rc -eq 2 ]'
$C "$M" --summary-only >"$T/m7" 2>&1; rc=$?
check "--summary-only prints only the summary" \
    '[ $rc -eq 0 ] && [ "$(head -n1 "$T/m7")" = "summary:" ] && ! grep -q " frame$" "$T/m7"'
$C "$T/rscp.pcap" --proto 5033=none >"$T/m8" 2>&1; rc=$?
check "--proto 5033=none: not decoded" '[ $rc -eq 0 ] && ! grep -q "rscp frame" "$T/m8"'
$C "$T/rscp.pcap" --proto 5033=foo >/dev/null 2>&1; rc=$?
check "--proto with an unknown protocol: exit 2" '[ $rc -eq 2 ]'
unset E3DC_RSCP_KEY

# ---- exit codes ----------------------------------------------------------------
E3DC_RSCP_KEY=my-rscp-key $C "$T/truncated.pcap" >"$T/t1" 2>"$T/t1e"; rc=$?
check "truncated file: exit 3 after printing the frames before the cut" \
    '[ $rc -eq 3 ] && grep -q "EMS_POWER_PV" "$T/t1" && grep -q "capture incomplete" "$T/t1" && grep -q "error" "$T/t1e"'
$C "$T/no-such-file.pcap" >/dev/null 2>&1; rc=$?
check "missing file: exit 3" '[ $rc -eq 3 ]'
$C "$T/rscp.key" >/dev/null 2>&1; rc=$?
check "not a capture: exit 3" '[ $rc -eq 3 ]'
$EW capture >/dev/null 2>&1; rc=$?
check "no file: exit 2" '[ $rc -eq 2 ]'
$C "$T/rscp.pcap" --bogus >/dev/null 2>&1; rc=$?
check "unknown option: exit 2" '[ $rc -eq 2 ]'
$C "$T/rscp.pcap" --keylog "$T/none.keys" >/dev/null 2>&1; rc=$?
check "unreadable key log: exit 1" '[ $rc -eq 1 ]'
$EW capture --help >"$T/h" 2>&1; rc=$?
check "--help: exit 0, mentions the filter words" '[ $rc -eq 0 ] && grep -q "port N" "$T/h"'

echo "capture-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
