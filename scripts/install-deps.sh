#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Install the Debian packages tlstrace builds and tests with, and the npm
# packages its tests validate exports with. Idempotent: a machine that has them
# all is left alone (no apt-get, no npm).
set -euo pipefail

pkgs=(
	# build (libbpf-dev and bpftool come from bookworm-backports: see below)
	make gcc clang llvm pkg-config libelf-dev zlib1g-dev
	libjson-c-dev uthash-dev libnghttp2-dev clang-format libcurl4-openssl-dev
	libmicrohttpd-dev libclang-rt-14-dev
	# disassembly: the RET instructions of Go's crypto/tls functions
	libcapstone-dev
	# tests and the built-in example: a local HTTPS server and real clients
	python3 openssl libssl-dev curl ca-certificates procps util-linux
	nghttp2-client nghttp2-server gnutls-bin wget nginx-light iproute2 python3-h2
	python3-websockets
	# other protocols over TLS: psql against a throwaway cluster (initdb, pg_ctl)
	postgresql
	# NSS: Firefox, judged by its own Resource Timing entries, and NSS's own
	# client and server (tstclnt, selfserv) and database tool (certutil)
	firefox-esr libnss3-tools
	# Go's crypto/tls: clients and servers built by the tests with Debian's Go
	# (1.19) and a newer one from bookworm-backports; Prometheus is Go too
	golang-go golang-1.23-go
	# stacks with nothing to probe, timed from the wire: Chromium (judged by
	# its own timings, driven by playwright-core from npm) and Java's HttpClient
	chromium openjdk-17-jdk-headless
	# the exports, checked by the tools that read them
	prometheus tmux
	# make install's products: tlstrace(8) rendered by man and linted by groff
	# and mandoc, the completion loaded by bash-completion
	man-db groff-base mandoc bash-completion
	# deploy/: the Kubernetes manifest parsed, the systemd unit verified
	python3-yaml systemd
)

# bookworm-backports (libbpf 1.4 for uprobe_multi links, bpftool 7.5, Go
# 1.23): the suite is added to the machine's own Debian entry, the one whose
# suites include bookworm, so packages come from the mirror it already uses.
# APT_DIR is for trying this on a copy.
apt_dir=${APT_DIR:-/etc/apt}
add_backports() {
	local f
	if grep -rqsE '^[^#]*bookworm-backports' "$apt_dir/sources.list" "$apt_dir/sources.list.d"; then
		return 0
	fi
	for f in "$apt_dir"/sources.list.d/*.sources; do
		if [ -f "$f" ] && grep -qE '^Suites:(.* )?bookworm( |$)' "$f"; then
			sed -i -E '0,/^(Suites:(.* )?bookworm)( |$)/s//\1 bookworm-backports\3/' "$f"
			return 0
		fi
	done
	for f in "$apt_dir/sources.list" "$apt_dir"/sources.list.d/*.list; do
		if [ -f "$f" ] && grep -qE '^deb[[:space:]]+[^[:space:]]+[[:space:]]+bookworm[[:space:]]' "$f"; then
			awk '{ print } !done && $1 == "deb" && $3 == "bookworm" { $3 = "bookworm-backports"; print; done = 1 }' \
				"$f" >"$f.tlstrace" && mv "$f.tlstrace" "$f"
			return 0
		fi
	done
	echo "install-deps: no Debian bookworm entry in $apt_dir to add bookworm-backports to" >&2
	return 1
}

# libbpf >= 1.4 (uprobe_multi links) and the bpftool of the same era, from backports
libbpf_new_enough() {
	local v
	v=$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null) &&
		dpkg --compare-versions "$v" ge 1:1.4 &&
		dpkg --compare-versions "$(dpkg-query -W -f='${Version}' bpftool 2>/dev/null)" ge 7.5
}

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
# Node.js and npm run the validators: the machine's own if it has them
command -v npm >/dev/null && command -v node >/dev/null || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: run as root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}" >&2
	add_backports
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi
if ! libbpf_new_enough; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: run as root to install libbpf 1.4 and bpftool 7.5 from bookworm-backports" >&2
		exit 1
	fi
	echo "install-deps: installing libbpf-dev, libbpf1 and bpftool from bookworm-backports" >&2
	add_backports
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		-t bookworm-backports libbpf-dev libbpf1 bpftool >/dev/null
fi

# the npm packages the end-to-end tests validate exports with (HAR, OTLP),
# at the versions package-lock.json pins
node_dir=$(dirname "$0")/../tests/e2e/node
if [ ! -d "$node_dir/node_modules" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules" ]; then
	echo "install-deps: npm ci in tests/e2e/node" >&2
	npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error >/dev/null
	touch "$node_dir/node_modules"
fi
