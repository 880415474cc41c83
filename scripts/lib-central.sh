# Shared by the Central interop scripts (sourced, not run): installing peers, a throwaway
# PostgreSQL on a Unix socket (Debian's initdb and pg_ctl), the real gateway daemon
# against the simulated building with confirm = "collector", and the checks both engines
# use. The caller sets `work` (a temporary folder) and `BIN` (target/debug) first.

PIDS=()
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
fail() { echo "${0##*/}: FAILED: $*" >&2; exit 1; }
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    [ -n "${PGBIN:-}" ] && as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"   # KEEP_WORK=1 keeps the logs of a failed run
}

# install_missing PACKAGE... : apt-get installs them as root, or fails saying what is missing.
install_missing() {
    [ "$#" -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ]; then echo "${0##*/}: $* missing; run as root once" >&2; exit 1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

free_port() { python3 scripts/free_port.py "${work:-${TMPDIR:-/tmp}}/portvakt-ports.$$"; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; fail "nothing listens on $1"; }

# certificates CLIENT...: a throwaway CA in $work, a server certificate for localhost and
# 127.0.0.1, and a client certificate for each CLIENT (CN and subjectAltName DNS = CLIENT:
# the user a broker maps it to). Test keys are world-readable: mosquitto started as root
# drops to its own user before it reads them.
certificates() {
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$1.key" 2>/dev/null; }
    key ca
    openssl req -x509 -new -key "$work/ca.key" -sha256 -days 30 -subj "/CN=Portvakt interop CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$work/ca.crt"
    leaf() { # name, extensions
        key "$1"
        openssl req -new -key "$work/$1.key" -subj "/CN=$1" -out "$work/$1.csr"
        printf '%b' "$2" > "$work/$1.ext"
        openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 30 -sha256 \
            -extfile "$work/$1.ext" -out "$work/$1.crt" 2>/dev/null
    }
    leaf server "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
    for who in "$@"; do
        leaf "$who" "basicConstraints=CA:FALSE\nsubjectAltName=DNS:$who\nextendedKeyUsage=clientAuth\n"
    done
    chmod 644 "$work"/*.key
}

# pg_setup: a throwaway PostgreSQL in $work/pg, its socket in $work/sock; sets DB.
pg_setup() {
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    mkdir -p "$work/pg" "$work/sock"
    [ "$(id -u)" = 0 ] && chown postgres "$work/pg" "$work/sock"
    as_pg "$PGBIN/initdb" -D "$work/pg" -A trust -U portvakt >/dev/null
    pg_start
    as_pg "$PGBIN/createdb" -h "$work/sock" -U portvakt portvakt
    DB="host=$work/sock user=portvakt dbname=portvakt"
    echo "   PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), throwaway, on a Unix socket"
}
pg_start() { as_pg "$PGBIN/pg_ctl" -D "$work/pg" -o "-k $work/sock -c listen_addresses=''" -l "$work/pg/log" -w start >/dev/null; }
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m fast stop >/dev/null; }
psql() { as_pg "$PGBIN/psql" -h "$work/sock" -U portvakt -d portvakt -tAq -c "$1"; }

# reading_key: the municipality's (kommunen's) reading key, made once: its home-care
# visits leave the gateway sealed to it, and the collectors open them with it.
reading_key() {
    [ -f "$work/kommunen.reading.key" ] || "$BIN/portvakt-admin" keygen --reading --out "$work/kommunen.reading.key" >/dev/null
}
# gateway_start SITE_DIR ENV...: the test fixture's site (test-site) in collector mode, with
# the uplink settings given as NAME=VALUE; its helpers use the same environment. The
# municipality has a reading key; its home-care bundle (hemtjanst-natt-5, PIN 864209) is
# taken in.
gateway_start() {
    reading_key
    if [ ! -d "$work/etc" ]; then
        cp -r tests/fixtures/config/good "$work/etc"
        sed -i "s/^id = \"kommunen\"\$/id = \"kommunen\"\nreading_key = \"$(cat "$work/kommunen.reading.key.pub")\"/" "$work/etc/portvakt.toml"
        grep -q '^reading_key' "$work/etc/portvakt.toml" || fail "the municipality's reading key is not in the gateway's config"
    fi
    chmod 600 "$work/etc/secrets/"*
    touch "$work/synchronized"
    mkdir -p "$work/inbox"
    export PORTVAKT__STORE__PATH="$work/gw.db" PORTVAKT__CREDENTIALS__INBOX="$work/inbox" \
           PORTVAKT__DAEMON__CONTROL_SOCKET="$work/control.sock" PORTVAKT__CLOCK__SYNCHRONIZED_FLAG="$work/synchronized" \
           PORTVAKT__UPLINK__CONFIRM=collector PORTVAKT__UPLINK__COLLECTOR_KEY="$(cat "$work/signing.key.pub")"
    for kv in "$@"; do export "${kv?}"; done
    "$BIN/portvakt" --config "$work/etc/portvakt.toml" run --simulate 2>> "$work/gateway.log" &
    GATEWAY=$!
    PIDS+=("$GATEWAY")
    for _ in $(seq 100); do gw status >/dev/null 2>&1 && { home_care_bundle; return 0; }; sleep 0.1; done
    fail "the gateway did not start: $(tail -5 "$work/gateway.log")"
}
# home_care_bundle: the municipality's bundle (the fixture's kommunen key, seed 0x02) with
# one home-care PIN, built and signed with portvakt-admin and taken in.
home_care_bundle() {
    [ -f "$work/care.pvkt" ] && return 0
    printf '02%.0s' $(seq 32) > "$work/kommunen.key"
    chmod 600 "$work/kommunen.key"
    printf 'id,holder,role,kind,secret,doors\ncare-5,hemtjanst-natt-5,home_care,pin,864209,entrance\n' > "$work/care.csv"
    "$BIN/portvakt-admin" bundle build --authority kommunen --site test-site --site-key "$work/etc/secrets/key" \
        --csv "$work/care.csv" --out "$work/care.body" >/dev/null
    "$BIN/portvakt-admin" bundle sign --in "$work/care.body" --key "$work/kommunen.key" --out "$work/care.pvkt" >/dev/null
    cp "$work/care.pvkt" "$work/inbox/care.pvkt"
    gw intake >/dev/null || fail "the home-care bundle was not taken in"
}
gw() { "$BIN/portvakt" --config "$work/etc/portvakt.toml" "$@"; }
visits() { for i in $(seq "$1"); do gw sim entrance code "90$i" >/dev/null; done; }
care_visits() { for _ in $(seq "$1"); do gw sim entrance code 864209 >/dev/null; done; }
status_field() { gw status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['store']['$1'])"; }
outbox() { status_field outbox_depth; }
head_seq() { status_field head_seq; }
through() { psql "SELECT coalesce((SELECT through FROM current_chains WHERE site = 'test-site'), 0)"; }
# drained WHAT [TENTHS]: waits until the gateway's outbox is empty and Central holds everything.
drained() {
    for _ in $(seq "${2:-300}"); do
        if [ "$(outbox)" = 0 ] && [ "$(through)" = "$(head_seq)" ]; then return 0; fi
        sleep 0.1
    done
    fail "$1: outbox $(outbox), gateway head $(head_seq), Central through $(through)"
}
# collector NAME VAR ARGS...: starts collector instance NAME with ARGS, its pid in VAR.
collector() {
    local name=$1 var=$2
    shift 2
    reading_key
    "$BIN/portvakt-central" collect --db "$DB" --signing-key "$work/signing.key" --client-id "$name" \
        --reading-key "kommunen=$work/kommunen.reading.key" "$@" \
        >> "$work/collector-$name.log" 2>&1 &
    PIDS+=($!)
    printf -v "$var" '%s' "$!"
}
# intact_and_unequivocal: verify says intact, nothing equivocated.
intact_and_unequivocal() {
    "$BIN/portvakt-central" verify --db "$DB" --site test-site | tee "$work/verify.txt"
    grep -q "chain intact" "$work/verify.txt" || fail "verify does not say intact"
    [ "$(psql "SELECT count(*) FROM equivocations")" = 0 ] || fail "equivocations after the faults"
}

# alarm_is KIND SUBJECT open|cleared: waits (30 s) until test-site's alarm is so.
alarm_is() {
    local open_sql="SELECT count(*) FROM alarms WHERE site = 'test-site' AND kind = '$1' AND subject = '$2' AND cleared_at IS NULL"
    local all_sql="SELECT count(*) FROM alarms WHERE site = 'test-site' AND kind = '$1' AND subject = '$2'"
    for _ in $(seq 300); do
        case "$3" in
            open) [ "$(psql "$open_sql")" = 1 ] && return 0 ;;
            cleared) [ "$(psql "$open_sql")" = 0 ] && [ "$(psql "$all_sql")" -ge 1 ] && return 0 ;;
        esac
        sleep 0.1
    done
    "$BIN/portvakt-central" alarms --db "$DB" --since 2000-01-01T00:00:00Z >&2
    fail "alarm $1 '$2' is not $3"
}

# fleet_checks: the fleet's state and alarms from the gateway's retained messages and records.
fleet_checks() {
    echo "== interop: the fleet's state and alarms"
    "$BIN/portvakt-central" fleet --db "$DB" | tee "$work/fleet.txt"
    # (the state's outbox figure refreshes with state_interval, so it is not checked here)
    grep -Eq "^test-site +yes +[0-9T:-]+Z +trusted +[0-9]+ +$(through) +[0-9]+/[0-9]+ +0 " "$work/fleet.txt" \
        || fail "the fleet does not show test-site online, clock trusted, stored $(through), no alarm"
    gw sim entrance open >/dev/null      # pushed open while the strike is locked: forced
    alarm_is door_forced_open entrance open
    gw sim entrance close >/dev/null
    alarm_is door_forced_open entrance cleared
    kill -TERM "$GATEWAY"
    wait "$GATEWAY" || true
    alarm_is gateway_offline "" open
    gateway_start
    alarm_is gateway_offline "" cleared
    "$BIN/portvakt-central" alarms --db "$DB" --since 2000-01-01T00:00:00Z | tee "$work/alarms.txt"
    grep -q "door_forced_open" "$work/alarms.txt" && grep -q "gateway_offline" "$work/alarms.txt" || fail "alarms lists neither"
    drained "after the gateway came back" 600
}
