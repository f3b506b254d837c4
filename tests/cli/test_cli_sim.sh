#!/bin/sh
# Runs `energywire sim rscp` in the background and the client verbs
# (`energywire rscp <verb> --json`) against it over TCP, checking the answers
# against the simulated plant; then `energywire demo`.  POSIX sh, grep, sed
# and awk only.  Prints "ok - ..." / "not ok - ..." per check and a closing
# "sim-cli: N passed, N failed" line; exits non-zero on any failure.
set -u
bin=${EW_BIN:?set EW_BIN to the energywire binary}
tmp=$(mktemp -d)
pass=0
fail=0
pids=

cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

nap() {
    sleep 0.1 2>/dev/null || sleep 1
}

# report NAME GOOD [file...]: GOOD is a count (grep -c) or 0/1; a positive
# number passes.  The files are shown on failure.
report() {
    name=$1 good=$2
    shift 2
    case $good in
    '' | *[!0-9]* | 0) good=0 ;;
    *) good=1 ;;
    esac
    if [ "$good" = 1 ]; then
        pass=$((pass + 1))
        echo "ok - $name"
    else
        fail=$((fail + 1))
        echo "not ok - $name"
        for f in "$@"; do
            [ -f "$f" ] && sed 's/^/#   /' "$f" | head -20
        done
    fi
}

# check NAME EXPECTED_EXIT PATTERN_OUT PATTERN_ERR -- command...
# Patterns are fixed strings ('' = no check) looked up in stdout / stderr;
# stdout stays in $tmp/out for later checks.
check() {
    name=$1 want=$2 pout=$3 perr=$4
    shift 5
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    good=1
    [ "$got" = "$want" ] || good=0
    if [ -n "$pout" ] && ! grep -qF -- "$pout" "$tmp/out"; then good=0; fi
    if [ -n "$perr" ] && ! grep -qF -- "$perr" "$tmp/err"; then good=0; fi
    [ $good = 1 ] || echo "#   exit $got, wanted $want"
    report "$name" $good "$tmp/out" "$tmp/err"
}

# The raw value of "KEY": in a JSON file (the last one on a line), e.g. 94,
# -2807, true, "S10_Mini".
jval() {
    sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2" | head -n 1
}

# holds COND NAME=NUMBER...: evaluates an awk condition over named numbers,
# e.g. holds 's >= 0 && s <= 100' s=5.  Fails when a value is not a number.
holds() {
    cond=$1
    shift
    for a; do
        case ${a#*=} in
        '' | *[!0-9.eE+-]*) return 1 ;;
        esac
        set -- "$@" -v "$a"
        shift
    done
    awk "$@" "BEGIN { exit !($cond) }" </dev/null 2>/dev/null
}

# Starts a simulator in the background (arguments as for `sim rscp`); sets
# $port and $spid, or fails.  Its output goes to $tmp/$1.out and .err.
start_sim() {
    tag=$1
    shift
    "$bin" sim rscp --port 0 "$@" >"$tmp/$tag.out" 2>"$tmp/$tag.err" &
    spid=$!
    pids="$pids $spid"
    port=
    n=0
    while [ $n -lt 150 ]; do
        line=$(head -n 1 "$tmp/$tag.out" 2>/dev/null)
        case $line in
        "listening on 127.0.0.1:"*)
            port=${line##*:}
            return 0
            ;;
        esac
        kill -0 "$spid" 2>/dev/null || break
        nap
        n=$((n + 1))
    done
    return 1
}

# ---- the main simulator --------------------------------------------------------

# A plant different from the defaults in every counted way, at noon on a
# summer Saturday, with a history long enough for the day before.
export E3DC_USER=tester@example.com
export E3DC_PASSWORD=sim-test-password
export E3DC_RSCP_KEY=sim-test-key
if start_sim main --seconds 60 --start 2024-06-15T12:00 --seed 7 --batteries 2 --trackers 3 \
    --wallboxes 2 --peak-w 8000 --capacity-wh 12000 --root-meter 6 --history-days 30 \
    --user installer@example.com:installer-pw:20; then
    report "sim rscp --port 0 prints 'listening on 127.0.0.1:PORT' first" 1
else
    report "sim rscp --port 0 prints 'listening on 127.0.0.1:PORT' first" 0 "$tmp/main.out" \
        "$tmp/main.err"
    echo "sim-cli: $pass passed, $((fail + 1)) failed (no simulator, nothing else tested)"
    exit 1
fi
main_pid=$spid
main_port=$port
report "a password on argv (--user) is warned about" \
    "$(grep -c 'visible to other users' "$tmp/main.err")" "$tmp/main.err"

rscp() {
    "$bin" rscp "$@" --host 127.0.0.1 --port "$main_port"
}

# poll: ranges and the energy balance pv + add + grid - battery = house + wallbox.
check "poll --json" 0 '"soc_pct":' "" -- rscp poll --json
cp "$tmp/out" "$tmp/poll"
soc=$(jval soc_pct "$tmp/poll")
pv=$(jval pv_power_w "$tmp/poll")
add=$(jval add_power_w "$tmp/poll")
bat=$(jval battery_power_w "$tmp/poll")
house=$(jval house_power_w "$tmp/poll")
grid=$(jval grid_power_w "$tmp/poll")
wb=$(jval wallbox_power_w "$tmp/poll")
holds "s >= 0 && s <= 100" s="${soc:-x}"
report "poll: soc_pct $soc is within 0..100" $((1 - $?)) "$tmp/poll"
holds "p > 0 && p <= 8000" p="${pv:-x}"
report "poll: pv_power_w $pv is within 0..peak at noon in June" $((1 - $?)) "$tmp/poll"
holds "pv + add + grid - bat - house - wb <= 2 && pv + add + grid - bat - house - wb >= -2" pv="${pv:-x}" add="${add:-x}" \
    grid="${grid:-x}" bat="${bat:-x}" house="${house:-x}" wb="${wb:-x}"
report "poll: pv + add + grid - battery = house + wallbox ($pv + $add + $grid - $bat = $house + $wb)" \
    $((1 - $?)) "$tmp/poll"
check "poll as text" 0 " W" "" -- rscp poll
check "poll --count 2 prints two answers" 0 "" "" -- rscp poll --json --interval 1 --count 2
report "poll --count 2: two answers" "$([ "$(grep -c '"soc_pct"' "$tmp/out")" = 2 ] && echo 1)" \
    "$tmp/out"

check "status --json" 0 '"ems_alive":true' "" -- rscp status --json

check "info --json" 0 '"installed_peak_power_w":8000' "" -- rscp info --json
report "info: battery capacity equals --capacity-wh" \
    "$(grep -c '"installed_battery_capacity_wh":12000' "$tmp/out")" "$tmp/out"
report "info: root meter 6 gives an S10 Mini serial" "$(grep -c '"model":"S10_Mini"' "$tmp/out")" \
    "$tmp/out"

# topology: the counts equal the options.
check "topology --json" 0 '"batteries":' "" -- rscp topology --json
cp "$tmp/out" "$tmp/topo"
nbat=$(grep -o '"dcb_count":' "$tmp/topo" | grep -c .)
ntrk=$(jval ntrackers "$tmp/topo")
nwb=$(sed -n 's/.*"wallboxes":\[\([^]]*\)\].*/\1/p' "$tmp/topo" | awk -F, '{ print NF }')
root=$(jval root_pm_index "$tmp/topo")
report "topology: 2 batteries ($nbat)" "$([ "$nbat" = 2 ] && echo 1 || echo 0)" "$tmp/topo"
report "topology: 3 trackers ($ntrk)" "$([ "$ntrk" = 3 ] && echo 1 || echo 0)" "$tmp/topo"
report "topology: 2 wallboxes ($nwb)" "$([ "$nwb" = 2 ] && echo 1 || echo 0)" "$tmp/topo"
report "topology: root meter 6 ($root)" "$([ "$root" = 6 ] && echo 1 || echo 0)" "$tmp/topo"

check "battery --index 1 --json" 0 '"index":1' "" -- rscp battery --index 1 --json
rsoc=$(sed -n 's/^{"index":1,"rsoc_pct":\([0-9.]*\).*/\1/p' "$tmp/out")
holds "s >= 0 && s <= 100" s="${rsoc:-x}"
report "battery: rsoc_pct $rsoc is within 0..100" $((1 - $?)) "$tmp/out"
check "battery --index 2 does not exist" 1 "" "no battery with index 2" -- \
    rscp battery --index 2 --json

check "pvi --json" 0 '"used_string_count":3' "" -- rscp pvi --json
check "pm --json finds the root meter at 6" 0 '"index":6,' '' -- rscp pm --json
report "pm: type ROOT" "$(grep -c '"type_name":"ROOT"' "$tmp/out")" "$tmp/out"

# wallbox: a write, then the read shows it.
check "wallbox --index 1 --max-current 12" 0 '"ok":true' "" -- \
    rscp wallbox --index 1 --max-current 12 --json
check "wallbox --index 1 reads it back" 0 '"max_current_a":12' "" -- rscp wallbox --index 1 --json

# switches: on, then the list shows it on.
check "switches --on 1" 0 '"ok":true' "" -- rscp switches --on 1 --json
check "switches list" 0 '"switches":' "" -- rscp switches --json
report "switches: switch 1 is on" "$(grep -c '"id":1,[^}]*"state":1' "$tmp/out")" "$tmp/out"
check "switches --off 1" 0 '"ok":true' "" -- rscp switches --off 1 --json
check "switches list after off" 0 '"switches":' "" -- rscp switches --json
report "switches: switch 1 is off again" "$(grep -c '"id":1,[^}]*"state":0' "$tmp/out")" "$tmp/out"

# settings: read-modify-write changes only the field named.
check "settings --json" 0 '"max_charge_power_w":' "" -- rscp settings --json
cp "$tmp/out" "$tmp/set0"
check "settings --max-charge 2500" 0 '"max_charge_power_w":2500' "" -- \
    rscp settings --max-charge 2500 --json
check "settings read back" 0 '"max_charge_power_w":2500' "" -- rscp settings --json
cp "$tmp/out" "$tmp/set1"
same=1
for k in max_discharge_power_w discharge_start_power_w powersave weather_regulated_charge \
    weather_forecast_mode; do
    a=$(jval $k "$tmp/set0")
    b=$(jval $k "$tmp/set1")
    if [ -z "$a" ] || [ "$a" != "$b" ]; then
        echo "#   $k: $a before, $b after"
        same=0
    fi
done
report "settings: the other fields are unchanged" $same "$tmp/set0" "$tmp/set1"

check "power charge 1500" 0 '"value":1500' "" -- rscp power charge 1500 --json
check "power auto" 0 '"ok":true' "" -- rscp power auto --json
check "manual-charge --start 500" 0 '"ok":true' "" -- rscp manual-charge --start 500 --json
check "manual-charge shows it active" 0 '"active":true' "" -- rscp manual-charge --json
check "idle periods" 0 '"total":14' "" -- rscp idle --json

check "history of the day before the start" 0 '"day":"2024-06-14"' "" -- \
    rscp history 2024-06-14 --tz UTC --json
pvwh=$(jval pv_wh "$tmp/out")
holds "p > 0" p="${pvwh:-x}"
report "history: pv_wh $pvwh is not zero" $((1 - $?)) "$tmp/out"

check "get EMS_POWER_PV" 0 '"tag":"EMS_POWER_PV"' "" -- rscp get EMS_POWER_PV --json
check "get by path" 0 '"tag":"BAT_RSOC"' "" -- rscp get 'BAT_DATA(BAT_INDEX==0)/BAT_RSOC' --json
check "set EMS_REQ_SET_BATTERY_TO_CAR_MODE=1" 0 '"value":1' "" -- \
    rscp set EMS_REQ_SET_BATTERY_TO_CAR_MODE=1 --json
check "raw JSON request" 0 '"tag":"BAT_RSOC"' "" -- \
    rscp raw '[{"tag":"BAT_REQ_DATA","value":[{"tag":"BAT_INDEX","value":0},{"tag":"BAT_REQ_RSOC"}]}]' \
    --json

# A second login from --user (level 20).
check "login from --user" 0 '"soc_pct":' "" -- \
    env E3DC_USER=installer@example.com E3DC_PASSWORD=installer-pw "$bin" rscp poll --json \
    --host 127.0.0.1 --port "$main_port"

# Several clients at once.
par=
i=0
while [ $i -lt 5 ]; do
    rscp poll --json >"$tmp/par$i" 2>&1 &
    par="$par $!"
    i=$((i + 1))
done
good=1
for p in $par; do
    wait "$p" || good=0
done
i=0
while [ $i -lt 5 ]; do
    grep -q '"soc_pct"' "$tmp/par$i" || good=0
    i=$((i + 1))
done
report "five concurrent clients are all answered" $good "$tmp/par0" "$tmp/main.err"

# Errors.
check "wrong password: exit 1, says user name or password" 1 "" "user name or password" -- \
    env E3DC_PASSWORD=not-the-password "$bin" rscp poll --host 127.0.0.1 --port "$main_port"
report "the simulator logs the refused login" "$(grep -c 'login refused' "$tmp/main.err")" \
    "$tmp/main.err"
check "wrong key: exit 1, mentions the RSCP key" 1 "" "RSCP key" -- \
    env E3DC_RSCP_KEY=not-the-key "$bin" rscp poll --host 127.0.0.1 --port "$main_port"
check "bad usage: exit 2" 2 "" "unknown argument" -- rscp poll --bogus
check "bad usage: power without a mode" 2 "" "" -- rscp power
check "sim: unknown option" 2 "" "unknown option" -- "$bin" sim rscp --bogus
check "sim: too many batteries" 2 "" "--batteries" -- "$bin" sim rscp --batteries 9
check "sim: bad start time" 2 "" "--start" -- "$bin" sim rscp --start 2024-13-01
check "sim: no simulator named" 2 "" "" -- "$bin" sim
check "sim: port in use" 1 "" "127.0.0.1:$main_port" -- \
    "$bin" sim rscp --port "$main_port" --seconds 1 --history-days 0
check "demo: unknown option" 2 "" "unknown option" -- "$bin" demo --bogus

# Nothing listening: the port of a simulator that has stopped by itself.
if start_sim gone --seconds 1 --history-days 0; then
    gone_port=$port
    wait "$spid"
    rc=$?
    report "sim --seconds 1 stops by itself with exit 0 ($rc)" "$([ $rc = 0 ] && echo 1)" \
        "$tmp/gone.err"
    check "nothing listening: exit 1 names host:port" 1 "" "127.0.0.1:$gone_port" -- \
        "$bin" rscp poll --host 127.0.0.1 --port "$gone_port"
else
    report "second simulator starts" 0 "$tmp/gone.err"
fi

# Fault injection, and a config file overridden by the environment.
cat >"$tmp/sim.conf" <<EOF
# simulator settings
SIM_WALLBOXES=3
SIM_SPLIT=5:1
SIM_HISTORY_DAYS=1
E3DC_RSCP_KEY=from-the-file
EOF
export SIM_WALLBOXES=4
if start_sim cfg --seconds 20 --config "$tmp/sim.conf"; then
    # E3DC_RSCP_KEY is exported, and the environment beats the file.
    check "config file + environment: poll through 5-byte pieces" 0 '"soc_pct":' "" -- \
        "$bin" rscp poll --json --host 127.0.0.1 --port "$port"
    check "config file + environment: SIM_WALLBOXES=4 from the environment wins" 0 \
        '"wallboxes":[0,1,2,3]' "" -- "$bin" rscp topology --json --host 127.0.0.1 --port "$port"
else
    report "simulator with --config starts" 0 "$tmp/cfg.err"
fi
unset SIM_WALLBOXES
if start_sim refuse --seconds 20 --history-days 0 --refuse-login; then
    check "--refuse-login: exit 1, user name or password" 1 "" "user name or password" -- \
        "$bin" rscp poll --host 127.0.0.1 --port "$port"
fi
if start_sim corrupt --seconds 20 --history-days 0 --corrupt 2; then
    check "--corrupt 2: the damaged answer is reported" 1 "" "CRC" -- \
        "$bin" rscp poll --host 127.0.0.1 --port "$port"
fi

# The demo, piped: one plain line per update.
check "demo --seconds 3 prints 3 lines" 0 " W | battery " "" -- "$bin" demo --seconds 3
report "demo: exactly 3 lines" "$([ "$(grep -c ' pv .* W | battery .* | house .* W | grid ' \
    "$tmp/out")" = 3 ] && echo 1 || echo 0)" "$tmp/out"
check "demo --json" 0 '"soc_pct":' "" -- "$bin" demo --seconds 2 --json
report "demo --json: 2 objects" "$([ "$(grep -c '^{"time":' "$tmp/out")" = 2 ] && echo 1 || echo 0)" \
    "$tmp/out"

# The main simulator logged its clients and stops cleanly on SIGTERM.
report "sim logs one line per connect and disconnect" \
    "$(awk '/ connected \(/ { c++ } / disconnected: / { d++ } END { print (c >= 10 && c == d) }' \
        "$tmp/main.err")" "$tmp/main.err"
kill -TERM "$main_pid"
wait "$main_pid"
rc=$?
report "sim stops on SIGTERM with exit 0 ($rc)" "$([ $rc = 0 ] && echo 1 || echo 0)" "$tmp/main.err"
report "sim says why it stops" "$(grep -c 'stopping: terminated (SIGTERM)' "$tmp/main.err")" \
    "$tmp/main.err"

echo "sim-cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
