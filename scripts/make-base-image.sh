#!/usr/bin/env bash
# Provides the base image the Dockerfiles in docker/ start FROM (node:20-bookworm-slim).
# On a normal machine `docker pull` brings it. Where no container registry is reachable, it is
# made offline: a minimal Debian bookworm from Debian's own packages (debootstrap) plus this
# machine's Node.js binary and its npm, imported under the same tag. Skipped when the image
# exists (with npm).
set -euo pipefail

image="${CICD_BASE_IMAGE:-node:20-bookworm-slim}"

if docker image inspect "$image" >/dev/null 2>&1; then
  # The real image has npm; one this script made offline before npm was added to it (an
  # imported image, not a pulled one) is made again. Any other image is left as it is.
  if docker run --rm --entrypoint sh "$image" -c 'command -v npm' >/dev/null 2>&1 \
    || [ "$(docker image inspect -f '{{.Comment}}' "$image")" != "Imported from -" ]; then
    echo "make-base-image: $image present"
    exit 0
  fi
  echo "make-base-image: $image lacks npm (made offline by an older version of this script); making it again"
  docker image rm -f "$image" >/dev/null
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
# npm as the real image has it: /usr/local/lib/node_modules/npm, linked from /usr/local/bin.
npm_dir="$(dirname "$node_bin")/../lib/node_modules/npm"
if [ -d "$npm_dir" ]; then
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
else
  echo "make-base-image: no npm beside $node_bin; the image has node only" >&2
fi
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$image" >/dev/null
echo "make-base-image: imported $image (node $(docker run --rm "$image" node --version), npm $(docker run --rm "$image" npm --version 2>/dev/null || echo none))"
