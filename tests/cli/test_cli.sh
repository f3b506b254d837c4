#!/bin/sh
# Runs the energywire binary ($EW_BIN) the way a user would and checks its
# output and exit codes.  Prints one line per check and a closing
# "N passed, N failed" line; exits non-zero on any failure.
set -u
bin=${EW_BIN:?set EW_BIN to the energywire binary}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# check NAME EXPECTED_EXIT PATTERN_OUT PATTERN_ERR -- command...
# Patterns are fixed strings ('' = no check) looked up in stdout / stderr.
check() {
    name=$1 want=$2 pout=$3 perr=$4
    shift 5
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    ok=1
    [ "$got" = "$want" ] || ok=0
    if [ -n "$pout" ] && ! grep -qF -- "$pout" "$tmp/out"; then ok=0; fi
    if [ -n "$perr" ] && ! grep -qF -- "$perr" "$tmp/err"; then ok=0; fi
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
        echo "ok - $name"
    else
        fail=$((fail + 1))
        echo "not ok - $name (exit $got, wanted $want)"
        sed 's/^/#   out: /' "$tmp/out" | head -20
        sed 's/^/#   err: /' "$tmp/err" | head -20
    fi
}

poll="$root/docs/examples/poll-response.hex"
client="$root/docs/examples/pye3dc-session-client.hex"
auth_plain=e3dc001100f1536500000000000000003b00010000000e3400020000000d100075736572406578616d706c652e636f6d030000000d16007365637265742d706f7274616c2d70617373776f7264162267e8
auth_enc=deb4f234e5a7cc26159e6a19beb796d0bfd36b9a99d055ae84714b17c1ec19fcce93ea362ab461d141b0d90543caec162aadce4e034fb4b60b180627734cb48b2bec7ccefda7100e7577f975b7f3923f5d3d36f85539541bd9ece82d0db0d9de
printf 'my-rscp-key\n' >"$tmp/key"

check "decrypt poll response (key from environment)" 0 "EMS_POWER_PV = 4687 W" "" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode --file "$poll"
check "state of charge with unit" 0 "EMS_BAT_SOC = 77 %" "" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode --file "$poll"
check "frame header line" 0 "frame 1 at offset 0: 2023-11-14T22:13:20Z, 646 bytes, CRC ok" "" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode --file "$poll"
check "key from file" 0 "EMS_POWER_PV = 4687 W" "" -- \
    "$bin" rscp decode --key-file "$tmp/key" --file "$poll"
check "key on argv warns" 0 "EMS_POWER_PV" "other users of this machine can see it" -- \
    "$bin" rscp decode --key my-rscp-key --file "$poll"
check "wrong key is reported as a key problem" 1 "" "check the RSCP key" -- \
    env E3DC_RSCP_KEY=not-the-key "$bin" rscp decode --file "$poll"
check "JSON lines" 0 '"tag":"EMS_POWER_PV","id":"0x01800001","type":"Int32","value":4687,"unit":"W"' "" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode --json --file "$poll"
check "whole pye3dc client stream: 18 frames" 0 "frame 18 at offset" "" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode --file "$client"
check "password masked" 0 'RSCP_AUTHENTICATION_PASSWORD = "********"' "" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode "$auth_enc"
check "password shown on request" 0 'RSCP_AUTHENTICATION_PASSWORD = "secret-portal-password"' "" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode --show-secrets "$auth_enc"
check "plain frame without key" 0 'RSCP_AUTHENTICATION_USER = "user@example.com"' "" -- \
    env -u E3DC_RSCP_KEY "$bin" rscp decode "$auth_plain"
check "types shown" 0 'RSCP_AUTHENTICATION_USER = "user@example.com" (CString)' "" -- \
    env -u E3DC_RSCP_KEY "$bin" rscp decode --types "$auth_plain"
bad_crc=$(printf '%s' "$auth_plain" | sed 's/162267e8$/162267e9/')
check "CRC mismatch names the offset" 1 "" "checksum mismatch at offset 77" -- \
    env -u E3DC_RSCP_KEY "$bin" rscp decode "$bad_crc"
check "truncated plain frame" 1 "" "input ends before the length in the frame header" -- \
    env -u E3DC_RSCP_KEY "$bin" rscp decode "e3dc001100f1536500000000000000003b000100"
check "ciphertext cut inside a frame" 1 "" "stream ends inside a frame" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode "$(printf '%s' "$auth_enc" | cut -c1-100)"
check "ciphertext cut inside the first block" 1 "" "stream ends inside a 32-byte cipher block" -- \
    env E3DC_RSCP_KEY=my-rscp-key "$bin" rscp decode "$(printf '%s' "$auth_enc" | cut -c1-40)"
check "bad magic" 1 "" "bad frame magic at offset 0" -- \
    env -u E3DC_RSCP_KEY "$bin" rscp decode "0011223344556677889900112233445566778899"
check "not hex is a usage error" 2 "" "input is not hex" -- \
    "$bin" rscp decode --plain "e3dcXYZ"
check "unknown option" 2 "" "unknown option" -- "$bin" rscp decode --bogus
check "unknown command" 2 "" "unknown command" -- "$bin" frobnicate
check "tags by name" 0 "EMS_POWER_PV" "" -- "$bin" rscp tags ems_power_pv
check "tags by id" 0 "BAT_INDEX" "" -- "$bin" rscp tags 0x03040001
check "tags: no match" 1 "" "no tag matches" -- "$bin" rscp tags no_such_tag_anywhere
check "version" 0 "energywire " "" -- "$bin" version

# RCT Power: registry and captured frames (bytes from tests/vectors/rct).
check "rct list by glob" 0 "0x959930BF  battery.soc" "" -- "$bin" rct list 'battery.soc*'
check "rct list by group, JSON" 0 '"name":"battery.soc","group":"BATTERY"' "" -- \
    "$bin" rct list --json --group battery 'battery.soc'
check "rct list: no match" 1 "" "no object matches" -- "$bin" rct list 'no.such.*'
check "rct decode response after garbage" 0 \
    "frame 1: RESPONSE battery.soc (0x959930BF) = 0.8478931188583374 % [1 bytes skipped before]" "" -- \
    "$bin" rct decode 002b0508959930bf3f590f868810
check "rct decode two frames" 0 "frame 2: READ battery.soc (0x959930BF)" "" -- \
    "$bin" rct decode 002b0508959930bf3f590f868810 2b0104959930bf0d65
check "rct decode flags a CRC mismatch" 1 '"crc":"mismatch"' "" -- \
    "$bin" rct decode --json 002b0508959930bf3f590f868811
check "rct decode: cut frame" 1 "" "input ends inside a frame" -- "$bin" rct decode 2b0508959930
check "rct: unknown verb" 2 "" "unknown rct verb" -- "$bin" rct frobnicate

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
