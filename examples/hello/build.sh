#!/bin/sh
# Builds the example service: runs its test, then bundles it into one runnable file,
# dist/hello-<version>.mjs (the artifact cicd keeps and a runner starts with `node {file}`).
set -eu
version=1.0
node test.mjs
mkdir -p dist
{
  sed 's/^export //' src/greeting.mjs
  grep -v '^import { greeting }' src/server.mjs
} > "dist/hello-$version.mjs"
echo "built dist/hello-$version.mjs"
