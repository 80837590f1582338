#!/usr/bin/env bash
# Runs once when the dev container is created: installs a Docker engine and Compose from the distribution's packages
# (Docker-in-Docker without a devcontainer feature, whose id would name a registry host), then builds the project.
set -euo pipefail

packages=(docker.io docker-compose-v2 postgresql-client)
apt-get update
# BuildKit's CLI plugin is packaged separately on newer releases; Compose builds without it too.
if apt-cache show docker-buildx >/dev/null 2>&1; then
    packages+=(docker-buildx)
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
rm -rf /var/lib/apt/lists/*

mvn -q -B -DskipTests package
