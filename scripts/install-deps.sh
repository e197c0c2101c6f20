#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Install the Debian packages tlstrace builds and tests with. Idempotent: a
# machine that has them all is left alone (no apt-get at all).
set -euo pipefail

pkgs=(
	# build
	make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
	libjson-c-dev uthash-dev libnghttp2-dev clang-format
	# tests and the built-in example: a local HTTPS server and real clients
	python3 openssl libssl-dev curl ca-certificates procps util-linux
	nghttp2-client nghttp2-server gnutls-bin wget nginx-light iproute2
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root to install: ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
