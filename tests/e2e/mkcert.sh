#!/bin/sh
# SPDX-License-Identifier: MIT
# Create DIR/cert.pem and DIR/key.pem (self-signed, CN=localhost) unless a valid pair exists.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi

dir=$1
mkdir -p "$dir"
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] &&
    openssl x509 -checkend 3600 -noout -in "$dir/cert.pem" >/dev/null 2>&1; then
    exit 0
fi

openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
    -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$dir/key.pem.tmp" -out "$dir/cert.pem.tmp" 2>/dev/null
chmod 600 "$dir/key.pem.tmp"
mv "$dir/key.pem.tmp" "$dir/key.pem"
mv "$dir/cert.pem.tmp" "$dir/cert.pem"
