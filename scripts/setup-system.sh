#!/bin/sh
# System packages the test suite needs beyond the virtualenv: Dovecot, the real IMAP server
# tests/imap_server.py starts on 127.0.0.1. Idempotent: installs only what is missing.
set -eu

if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        SUDO="sudo"
    fi
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y dovecot-imapd
fi
