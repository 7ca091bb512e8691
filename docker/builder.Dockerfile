# The builder image: `cicd builder` (docker/build/cicd.mjs, made by scripts/bundle.js) with git.
# Build from the project root: docker build -f docker/builder.Dockerfile -t cicd-builder .
#
# Users: the builder process runs as root and runs the build's commands as another user
# (`--user`, 1000:1000 unless the target says otherwise), so the commands cannot read the
# builder's callback token, the clone token or the git mirror. The manager drops every
# capability but the few the builder needs to hand the workspace over and switch users.
# iptables: an untrusted build's builder (`--isolate-network`) closes private and host addresses
# to the commands inside the container's own network namespace before the build runs.
FROM node:20-bookworm-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git ca-certificates openssh-client iptables \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /workspace \
 && chmod 1777 /workspace

COPY docker/build/cicd.mjs /opt/cicd/cicd.mjs
WORKDIR /workspace
ENTRYPOINT ["node", "/opt/cicd/cicd.mjs"]
CMD ["builder"]
