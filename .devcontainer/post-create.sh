#!/usr/bin/env bash
# Runs once when the dev container is created: installs a Docker engine and Compose from the distribution's packages
# (Docker-in-Docker without a devcontainer feature, whose id would name a registry host), then builds the project.
set -euo pipefail

# On the image's Ubuntu 24.04, docker-compose-v2 depends on the distribution's Docker engine and brings it along.
packages=(docker-compose-v2 postgresql-client)
apt-get update
# BuildKit's CLI plugin is packaged separately; Compose builds without it too.
if apt-cache show docker-buildx >/dev/null 2>&1; then
    packages+=(docker-buildx)
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y "${packages[@]}"
rm -rf /var/lib/apt/lists/*

if ! command -v dockerd >/dev/null; then
    echo "No Docker engine was installed along with docker-compose-v2: install your distribution's Docker engine" \
         "package, then run .devcontainer/start-docker.sh" >&2
    exit 1
fi

mvn -q -B -DskipTests package
