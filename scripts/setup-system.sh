#!/bin/sh
# System packages the test suite needs beyond the virtualenv: Dovecot, the real IMAP server
# tests/imap_server.py starts on 127.0.0.1, and Debian's chromium, the headless browser the
# desk's browser test drives through Playwright (which never downloads a browser of its own).
# Idempotent: installs only what is missing.
set -eu

missing=""
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
    missing="$missing dovecot-imapd"
fi
if [ ! -x /usr/bin/chromium ]; then
    missing="$missing chromium"
fi

if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        SUDO="sudo"
    fi
    $SUDO apt-get update
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y $missing
fi
