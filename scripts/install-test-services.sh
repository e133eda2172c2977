#!/usr/bin/env bash
# Installs the system services that the test fixtures start as private instances on loopback.
# Idempotent: a second run with everything present does nothing (no apt-get update).
# Add a service by appending its packages to APT_PACKAGES (or a pip line at the end).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Mail fixtures (tests/servers/mail.py): Dovecot for IMAP+LMTP, Postfix in front for SMTP with auth,
# openssl for the throwaway certificate of the TLS tests.
APT_PACKAGES=(dovecot-imapd dovecot-lmtpd postfix openssl)
# Deploy fixtures (tests/servers/podman.py): Podman's Docker-compatible API service with runc, and a
# static busybox whose root filesystem is imported as the test images (nothing is pulled). The
# supervisord fixture (tests/servers/supervisord.py) needs only PyPI `supervisor` (the test extra of scripts/setup).
APT_PACKAGES+=(podman runc busybox-static)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    # Postfix asks which kind of mail system this is: "No configuration" keeps it from being
    # set up to relay anything; the fixtures bring their own config directory.
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
    # Keep apt from starting the packaged daemons on standard ports during install (no systemd here
    # in containers, but invoke-rc.d honours policy-rc.d everywhere).
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        created_policy=1
    fi
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi
fi

# The packaged daemons must not run on the standard ports: our fixtures start private instances.
for svc in dovecot postfix; do
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
        $SUDO service "$svc" stop >/dev/null 2>&1 || true
    fi
    $SUDO update-rc.d "$svc" disable >/dev/null 2>&1 || true
done

echo "test services installed: ${APT_PACKAGES[*]}"

# Slack fixtures (tests/servers/slack_emulator.py): the Slack Web API emulator under a private Node 22.
bash "$(dirname "$0")/install-slack-emulator.sh"

# supervisord for the deploy fixtures comes from PyPI (pinned in pyproject's `test` extra, which
# scripts/setup installs); install it here too if the virtualenv predates that pin.
venv_python="$(dirname "$0")/../.venv/bin/python"
if [ -x "$venv_python" ] && ! "$venv_python" -c 'import supervisor' 2>/dev/null; then
    "$venv_python" -m pip install --disable-pip-version-check -q "supervisor==4.3.0"
fi
