#!/usr/bin/env bash
# The floor: one build of a project the way a person does it by hand, for the benchmark.
#   bench/floor.sh REPO_URL OUT_DIR IMAGE LABEL COMMAND...
# 1. git clone the repository into a fresh temp folder;
# 2. docker run --rm the builder image with the clone mounted as /workspace and run COMMAND(s)
#    there with sh -c (the container carries LABEL so an interrupted run can be swept);
# 3. copy the artifact (dist/*.jar) into OUT_DIR under a unique, versioned name.
# Exits non-zero when any step fails (set -e), like the person would stop.
set -euo pipefail
repo=$1 out=$2 image=$3 label=$4
shift 4
commands=$(printf '%s && ' "$@")
work=$(mktemp -d "${TMPDIR:-/tmp}/cicd-floor-XXXXXX")
trap 'rm -rf "$work"' EXIT

git clone -q "$repo" "$work/src"
docker run --rm --label "$label" -v "$work/src:/workspace" -w /workspace --entrypoint sh "$image" -c "${commands% && }" >/dev/null
stamp=$(date -u +%Y%m%dT%H%M%S%N)
for jar in "$work"/src/dist/*.jar; do
  name=$(basename "$jar" .jar)
  cp "$jar" "$out/$name-$stamp-$$.jar"
done
