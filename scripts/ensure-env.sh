#!/usr/bin/env bash
# Brings up what Wavecast's tests need when it is missing, and does nothing (quickly) when it is there:
#   - Debian's Chromium at /usr/bin/chromium (browser interop tests, driven by playwright-core)
#   - /usr/bin/python3 with Debian's python3-websockets (interop tests against a Python peer)
#   - Redis answering on 127.0.0.1:6379 and NATS with JetStream on 127.0.0.1:4222 (cluster tests), and
#     the redis-server and nats-server binaries (the cluster fault tests run private brokers)
# Prints one line per thing it had to do; prints nothing when everything was ready.
# Exits non-zero with a message saying what is wrong when something cannot be brought up.
# Run by `npm test` (scripts/test.mjs) before the tests; safe to run by hand at any time.
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"

REDIS_PORT=6379
NATS_PORT=4222
WAIT_SECONDS=${WAVECAST_ENV_WAIT_SECONDS:-30}

say() { printf 'ensure-env: %s\n' "$*"; }
die() { printf 'ensure-env: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or passwordless sudo) to run: $*"
  fi
}

# --- checks (cheap; these are all the ready path runs) ---------------------------------------------

# Redis answers PING with +PONG.
redis_answers() {
  local reply
  reply=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r line <&3 && printf "%s" "$line"' _ "$REDIS_PORT" 2>/dev/null) || return 1
  [[ $reply == "+PONG"* ]]
}

# NATS greets every new connection with an INFO line; prints that line.
nats_info() {
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r line <&3 && printf "%s" "$line"' _ "$NATS_PORT" 2>/dev/null
}
nats_answers() {
  local info
  info=$(nats_info) || return 1
  [[ $info == "INFO "* ]]
}

port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

python_websockets_ok() {
  [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1
}

# --- packages ----------------------------------------------------------------------------------------

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
if [[ ! -x /usr/bin/python3 ]]; then
  missing+=(python3 python3-websockets)
elif ! python_websockets_ok; then
  missing+=(python3-websockets)
fi
redis_up=0; redis_answers && redis_up=1
nats_up=0; nats_answers && nats_up=1
# The binaries are needed even when the shared servers already answer: the cluster fault tests start
# private brokers of their own on free ports, and kill and restart them.
[[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
[[ -x /usr/sbin/nats-server ]] || missing+=(nats-server)

if [[ ${#missing[@]} -gt 0 ]]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and there is no apt-get to install them"
  apt_log=$(mktemp /tmp/ensure-env-apt.XXXXXX.log)
  start=$SECONDS
  say "apt-get update (to install: ${missing[*]})"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update >"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    die "apt-get update failed (full log: $apt_log)"
  fi
  say "apt-get install ${missing[*]}"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
      --no-install-recommends "${missing[@]}" </dev/null >>"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    die "apt-get install ${missing[*]} failed (full log: $apt_log)"
  fi
  rm -f "$apt_log"
  say "installed ${missing[*]} in $((SECONDS - start))s"
fi

[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is still missing after installing Debian's chromium package"
if [[ " ${missing[*]} " == *" chromium "* ]]; then
  /usr/bin/chromium --version >/dev/null 2>&1 || die "/usr/bin/chromium was installed but does not run ('/usr/bin/chromium --version' failed)"
fi
python_websockets_ok || die "/usr/bin/python3 cannot 'import websockets' even after installing python3-websockets"

# --- services ----------------------------------------------------------------------------------------

# wait_for NAME CHECK LOGFILE: polls CHECK until it succeeds or WAIT_SECONDS pass.
wait_for() {
  local name=$1 check=$2 log=$3 deadline=$((SECONDS + WAIT_SECONDS))
  until "$check"; do
    if ((SECONDS >= deadline)); then
      [[ -r $log ]] && { printf -- '--- last lines of %s ---\n' "$log" >&2; tail -n 20 "$log" >&2; }
      die "$name did not answer within ${WAIT_SECONDS}s after being started (log: $log)"
    fi
    sleep 0.2
  done
}

if [[ $redis_up -eq 0 ]]; then
  if port_open "$REDIS_PORT"; then
    die "something is listening on 127.0.0.1:$REDIS_PORT but does not answer Redis PING with +PONG; stop it or fix it"
  fi
  say "starting redis-server on 127.0.0.1:$REDIS_PORT"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null ||
    die "redis-server failed to start (see /var/log/redis/ci.log)"
  wait_for "Redis on 127.0.0.1:$REDIS_PORT" redis_answers /var/log/redis/ci.log
fi

if [[ $nats_up -eq 0 ]]; then
  if port_open "$NATS_PORT"; then
    die "something is listening on 127.0.0.1:$NATS_PORT but does not greet like NATS (no INFO line); stop it or fix it"
  fi
  say "starting nats-server (JetStream) on 127.0.0.1:$NATS_PORT"
  as_root mkdir -p /var/lib/nats-server
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p "$NATS_PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log ||
    die "nats-server failed to start (see /var/log/nats-server.log)"
  if ! (wait_for "NATS on 127.0.0.1:$NATS_PORT" nats_answers /var/log/nats-server.log); then
    # start-stop-daemon --oknodo does nothing when some nats-server process already runs (on another port,
    # or hung): name those so the fix is obvious.
    others=$(pgrep -a -x nats-server || true)
    [[ -n $others ]] && printf 'ensure-env: nats-server processes already running (stop them or make one listen on 127.0.0.1:%s):\n%s\n' "$NATS_PORT" "$others" >&2
    exit 1
  fi
fi

if [[ $(nats_info) != *'"jetstream":true'* ]]; then
  printf 'ensure-env: WARNING: NATS on 127.0.0.1:%s answers but JetStream is not enabled (start it with -js); tests that need JetStream will fail\n' "$NATS_PORT" >&2
fi
