# The runner image: `cicd runner` (docker/build/cicd.mjs, made by scripts/bundle.js) on plain
# Node.js. Builds offline: no package install. Build from the project root:
#   docker build -f docker/runner.Dockerfile -t cicd-runner .
# Use:
#   docker run -v /srv/cicd/servicefs/hello:/srv/target cicd-runner \
#     --dir /srv/target --command "node {file}" --watch
#
# The runner is PID 1 and handles SIGTERM itself (docker stop): it forwards the signal to the
# build's process group and exits 0 once the build has stopped (give `docker stop -t` more
# than --grace). Builds that need another runtime (a JRE for `java -jar {file}`) name their own
# image in the target's `run.image`, built FROM cicd-runner, e.g.
#   FROM cicd-runner
#   RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless
# The runner marks builds bad in the mounted builds.json, so the mount must be writable; run
# with `--user UID:GID` of the folder's owner when that is not root.
FROM node:20-bookworm-slim

COPY docker/build/cicd.mjs /opt/cicd/cicd.mjs
WORKDIR /srv
ENTRYPOINT ["node", "/opt/cicd/cicd.mjs", "runner"]
