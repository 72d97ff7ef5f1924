#!/usr/bin/env bash
# Make a Docker engine answer on /var/run/docker.sock for `sam local invoke` (tests/sam_local).
#
#   scripts/docker-engine.sh
#
# If none answers: install Debian's docker.io (and debootstrap, for scripts/build-lambda-image.sh)
# with apt-get when they are missing, start dockerd in the background and wait for it. dockerd runs
# with no default bridge and no iptables rules: containers get host networking only
# (`--docker-network host`), and nothing is given a private-range address. Needs root to start it.
set -euo pipefail

SOCKET=/var/run/docker.sock
LOG=${DOCKERD_LOG:-/var/log/amazon-channel-dockerd.log}

if docker info >/dev/null 2>&1; then
  echo "docker-engine.sh: a Docker engine answers already"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "docker-engine.sh: no Docker engine answers, and starting one needs root" >&2; exit 1; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "docker-engine.sh: apt-get install ${missing[*]} ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p /var/lib/docker "$(dirname "$LOG")"
# setsid: the engine outlives this script (CI's test run), like a service
setsid nohup dockerd \
  --host "unix://$SOCKET" \
  --data-root /var/lib/docker \
  --bridge=none --iptables=false --ip-masq=false \
  >"$LOG" 2>&1 </dev/null &

for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    echo "docker-engine.sh: dockerd is up (log: $LOG)"
    exit 0
  fi
  sleep 0.5
done
echo "docker-engine.sh: dockerd did not answer within 60 s; its log:" >&2
tail -n 30 "$LOG" >&2
exit 1
