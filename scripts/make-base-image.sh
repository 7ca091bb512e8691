#!/usr/bin/env bash
# Provides the base image the Dockerfiles in docker/ start FROM (node:20-bookworm-slim).
# On a normal machine `docker pull` brings it. Where no container registry is reachable, it is
# made offline: a minimal Debian bookworm from Debian's own packages (debootstrap) plus this
# machine's Node.js binary, imported under the same tag. Skipped when the image exists.
set -euo pipefail

image="${CICD_BASE_IMAGE:-node:20-bookworm-slim}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-base-image: $image present"
  exit 0
fi
if timeout 60 docker pull "$image" >/dev/null 2>&1; then
  echo "make-base-image: pulled $image"
  exit 0
fi

echo "make-base-image: no registry; building $image offline with debootstrap (about 90 s)"
if ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq debootstrap >/dev/null
fi

node_bin="$(readlink -f "$(command -v node)")"
root="$(mktemp -d /tmp/cicd-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT

debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/tmp/cicd-debootstrap.log 2>&1 || {
  tail -n 30 /tmp/cicd-debootstrap.log >&2
  exit 1
}
cat >"$root/etc/apt/sources.list" <<'LIST'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$image" >/dev/null
echo "make-base-image: imported $image ($(docker run --rm "$image" node --version))"
