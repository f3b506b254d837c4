#!/bin/sh
# energywire rct read/write/timeseries/events against `energywire sim rct` on
# loopback, with fault injection.  POSIX sh, grep, sed and awk only.
# EW_BIN: the tool.
EW=${EW_BIN:-energywire}
T=$(mktemp -d)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
nok() { fail=$((fail + 1)); echo "not ok - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }

SIMS=""
start_sim() { # name, options...
    n=$1; shift
    "$EW" sim rct --port 0 --seconds 60 "$@" >"$T/$n.out" 2>"$T/$n.err" &
    SIMS="$SIMS $!"
    i=0
    while [ $i -lt 50 ] && ! grep -q '^listening on' "$T/$n.out" 2>/dev/null; do
        sleep 0.1; i=$((i + 1))
    done
    sed -n '1s/^listening on .*:\([0-9]*\)$/\1/p' "$T/$n.out"
}
cleanup() { for p in $SIMS; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT INT TERM

P=$(start_sim clean)
check "sim rct prints its port" '[ -n "$P" ]'
H="--host 127.0.0.1 --port $P"

"$EW" rct read $H --json battery.soc inverter_sn >"$T/r1" 2>"$T/e1"; rc=$?
check "read --json exits 0" '[ $rc -eq 0 ]'
check "read --json gives battery.soc as a float" 'grep -q "\"name\":\"battery.soc\",\"type\":\"FLOAT\",\"value\":0\." "$T/r1"'
check "read --json gives the serial number string" 'grep -q "\"name\":\"inverter_sn\",\"type\":\"STRING\",\"value\":\"" "$T/r1"'

"$EW" rct read $H 0x959930BF >"$T/r2" 2>&1; rc=$?
check "read by id, text" '[ $rc -eq 0 ] && grep -q "^battery.soc = 0\..* %$" "$T/r2"'

"$EW" rct write $H --json power_mng.soc_charge_power=1234.5 >"$T/w1" 2>&1; rc=$?
check "write FLOAT reads back the new value" '[ $rc -eq 0 ] && grep -q "\"value\":1234.5" "$T/w1"'
"$EW" rct read $H --json power_mng.soc_charge_power >"$T/w2" 2>&1
check "a later read sees the written value" 'grep -q "\"value\":1234.5" "$T/w2"'

"$EW" rct write $H --json android_description=garage >"$T/w3" 2>&1; rc=$?
check "write STRING" '[ $rc -eq 0 ] && grep -q "\"value\":\"garage\"" "$T/w3"'

"$EW" rct write $H 0x12345678=5 >"$T/w4" 2>&1; rc=$?
check "write to an unknown id is refused without --force" '[ $rc -eq 1 ] && grep -q "refusing" "$T/w4"'

"$EW" rct write $H power_mng.soc_charge_power=abc >"$T/w5" 2>&1; rc=$?
check "write with a value that is not a number: exit 2" '[ $rc -eq 2 ] && grep -q "not a number" "$T/w5"'

"$EW" rct read $H no.such.object >"$T/u1" 2>&1; rc=$?
check "read of an unknown name: exit 2" '[ $rc -eq 2 ] && grep -q "unknown object" "$T/u1"'
"$EW" rct read >"$T/u2" 2>&1; rc=$?
check "read without objects: exit 2" '[ $rc -eq 2 ]'
"$EW" rct read --bogus battery.soc >"$T/u3" 2>&1; rc=$?
check "unknown option: exit 2" '[ $rc -eq 2 ]'
env -u RCT_HOST "$EW" rct read battery.soc >"$T/u4" 2>&1; rc=$?
check "no host: exit 2 naming RCT_HOST" '[ $rc -eq 2 ] && grep -q RCT_HOST "$T/u4"'

"$EW" rct read --host 127.0.0.1 --port 1 battery.soc >"$T/x1" 2>&1; rc=$?
check "nothing listening: exit 1 naming host:port" '[ $rc -eq 1 ] && grep -q "127.0.0.1:1" "$T/x1"'

RCT_HOST=127.0.0.1 RCT_PORT=$P "$EW" rct read battery.soc >"$T/v1" 2>&1; rc=$?
check "RCT_HOST/RCT_PORT from the environment" '[ $rc -eq 0 ] && grep -q "^battery.soc" "$T/v1"'
printf 'RCT_HOST=127.0.0.1\nRCT_PORT=1\n' >"$T/conf"
"$EW" rct read --config "$T/conf" battery.soc >"$T/v2" 2>&1; rc=$?
check "config file is read" '[ $rc -eq 1 ] && grep -q "127.0.0.1:1" "$T/v2"'
RCT_PORT=$P "$EW" rct read --config "$T/conf" battery.soc >"$T/v3" 2>&1; rc=$?
check "the environment overrides the config file" '[ $rc -eq 0 ]'

# timeseries: 6 h of 5-minute samples (the simulator answers 24 a page, so
# several pages), sorted, unique, inside the window, values a SOC fraction.
"$EW" rct timeseries $H logger.minutes_soc_log_ts --from 2026-06-20T06:00 \
    --to 2026-06-20T12:00:00Z >"$T/ts1" 2>"$T/tse1"; rc=$?
check "timeseries exits 0 with the CSV header" \
    '[ $rc -eq 0 ] && [ "$(sed -n 1p "$T/ts1")" = "timestamp_iso,unix,value" ]'
check "timeseries spans several pages: 73 rows" '[ $(sed 1d "$T/ts1" | wc -l) -eq 73 ]'
check "timeseries rows sorted, unique, within the window, values 0..1" \
    'sed 1d "$T/ts1" | awk -F, "BEGIN{p=0} \$2<=p||\$2<1781935200||\$2>1781956800||\$3<0||\$3>1{exit 1} {p=\$2}"'
check "timeseries rows start and end at the window's ends" \
    'grep -q "^2026-06-20T06:00:00Z,1781935200,0\." "$T/ts1" && tail -n 1 "$T/ts1" | grep -q "^2026-06-20T12:00:00Z,1781956800,"'
"$EW" rct timeseries $H --json logger.minutes_soc_log_ts --from 2026-06-20T08:00+02:00 \
    --to @1781956800 >"$T/ts2" 2>&1; rc=$?
check "timeseries --json: an array of 73 {time,unix,value} (offset and @UNIX times)" \
    '[ $rc -eq 0 ] && [ $(grep -o "{\"time\":\"2026-06-20T[0-9:]*Z\",\"unix\":[0-9]*,\"value\":0\.[0-9]*}" "$T/ts2" | wc -l) -eq 73 ] && grep -q "^\[{\"time\":\"2026-06-20T06:00:00Z\",\"unix\":1781935200," "$T/ts2" && grep -q "}]$" "$T/ts2"'

"$EW" rct events $H --from 2026-04-01 --to 2026-06-20 >"$T/ev1" 2>&1; rc=$?
check "events returns rows over several pages, sorted" \
    '[ $rc -eq 0 ] && sed -n 1p "$T/ev1" | grep -qx "timestamp_iso,unix,type,type_name,element2,element3,element4" && [ $(sed 1d "$T/ev1" | wc -l) -gt 20 ] && sed 1d "$T/ev1" | awk -F, "BEGIN{p=0} \$2<p||\$2<1775001600||\$2>1781913600||\$3!~/^0x/{exit 1} {p=\$2}"'
"$EW" rct events $H --json --from 2026-06-01 --to 2026-06-20 >"$T/ev2" 2>&1; rc=$?
check "events --json" \
    '[ $rc -eq 0 ] && grep -q "^\[{\"time\":\"2026-06-.*\"type_name\":" "$T/ev2"'

"$EW" rct timeseries $H logger.minutes_soc_log_ts --from 2026-13-01 --to 2026-06-20 >"$T/b1" 2>&1; rc=$?
check "timeseries with a bad TIME: exit 2" '[ $rc -eq 2 ] && grep -q "bad --from time" "$T/b1"'
"$EW" rct events $H --from 2026-06-20 --to yesterday >"$T/b2" 2>&1; rc=$?
check "events with a bad TIME: exit 2" '[ $rc -eq 2 ] && grep -q "bad --to time" "$T/b2"'
"$EW" rct timeseries $H logger.minutes_soc_log_ts --from 2026-06-21 --to 2026-06-20 >"$T/b3" 2>&1; rc=$?
check "--from after --to: exit 2" '[ $rc -eq 2 ] && grep -q "is after --to" "$T/b3"'
"$EW" rct timeseries $H battery.soc --from 2026-06-19 --to 2026-06-20 >"$T/b4" 2>&1; rc=$?
check "timeseries of a non-timeseries object: exit 2" \
    '[ $rc -eq 2 ] && grep -q "not a timeseries object" "$T/b4"'
"$EW" rct timeseries --host 127.0.0.1 --port 1 logger.minutes_soc_log_ts --from 2026-06-19 \
    --to 2026-06-20 >"$T/b5" 2>&1; rc=$?
check "timeseries, nothing listening: exit 1 naming host:port" \
    '[ $rc -eq 1 ] && grep -q "127.0.0.1:1" "$T/b5"'

for f in truncate bad-crc drop cut; do
    FP=$(start_sim "$f" --$f --fault-every 3)
    "$EW" rct read --host 127.0.0.1 --port "$FP" --timeout 200 --retries 4 --json \
        battery.soc inverter_sn battery.soc >"$T/f-$f" 2>&1; rc=$?
    check "--$f every 3rd answer: reads succeed after retries" \
        '[ $rc -eq 0 ] && [ $(grep -o "\"name\"" "$T/f-$f" | wc -l) -eq 3 ]'
done

FP=$(start_sim always --truncate --fault-every 1)
"$EW" rct read --host 127.0.0.1 --port "$FP" --timeout 100 --retries 2 battery.soc >"$T/a1" 2>&1; rc=$?
check "every answer truncated: exit 1 with the reason" '[ $rc -eq 1 ] && grep -q "too short" "$T/a1"'
FP=$(start_sim always2 --drop --fault-every 1)
"$EW" rct read --host 127.0.0.1 --port "$FP" --timeout 100 --retries 2 battery.soc >"$T/a2" 2>&1; rc=$?
check "every answer dropped: exit 1, no answer after retries" '[ $rc -eq 1 ] && grep -q "no answer" "$T/a2"'

"$EW" sim rct --bogus >/dev/null 2>&1; rc=$?
check "sim rct usage error: exit 2" '[ $rc -eq 2 ]'

echo "rct-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
