#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs docker.io and starts dockerd when none does.
# Safe to run again: does nothing when `docker info` already succeeds.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  echo "ensure-docker: engine already answers"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "ensure-docker: starting dockerd"
  log="${DOCKERD_LOG:-/tmp/cicd-dockerd.log}"
  nohup dockerd --storage-driver=overlay2 >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then break; fi
    sleep 1
  done
fi

if ! docker info >/dev/null 2>&1; then
  echo "ensure-docker: dockerd did not answer within 60 s; its log follows" >&2
  tail -n 50 "${DOCKERD_LOG:-/tmp/cicd-dockerd.log}" >&2 || true
  exit 1
fi
echo "ensure-docker: engine answers"
