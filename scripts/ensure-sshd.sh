#!/usr/bin/env bash
# Makes sure sshd is installed for the tests that reach a Docker engine over ssh:// (each test
# starts an sshd of its own, on its own port and keys; nothing is started here, and the
# package's own service is not started). Safe to run again: does nothing when sshd exists.
set -euo pipefail

if [ -x /usr/sbin/sshd ]; then
  echo "ensure-sshd: present"
  exit 0
fi
echo "ensure-sshd: installing openssh-server (Debian's package)"
export DEBIAN_FRONTEND=noninteractive
# No service may start from the package's scripts (exit 101: "not allowed"); restored after.
policy=/usr/sbin/policy-rc.d
if [ -e "$policy" ]; then ours=false; else ours=true; printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; fi
apt-get update -qq
apt-get install -y -qq openssh-server >/dev/null
if $ours; then rm -f "$policy"; fi
echo "ensure-sshd: installed"
