# The builder image: `cicd builder` (docker/build/cicd.mjs, made by scripts/bundle.js) with git.
# Build from the project root: docker build -f docker/builder.Dockerfile -t cicd-builder .
#
# User: the image runs as root (HOME=/root, so cache folders such as /root/.m2 work). The
# service file system is a host folder mounted into the container and must stay writable
# whoever owns it on the host; a fixed non-root user could not write to a root-owned folder.
# Published files are 0644, so every host user can read them. To build as a non-root user,
# start the container with `--user UID:GID` (the servicefs folder's owner) and `-e HOME=/workspace`:
# /workspace is writable for any user, and git needs no HOME of its own (the builder sets
# GIT_CONFIG_GLOBAL).
FROM node:20-bookworm-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /workspace \
 && chmod 1777 /workspace

COPY docker/build/cicd.mjs /opt/cicd/cicd.mjs
WORKDIR /workspace
ENTRYPOINT ["node", "/opt/cicd/cicd.mjs"]
CMD ["builder"]
