#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 and lets the `postgres` user in without a
# password from loopback (what the scale-out tests use). Starts the machine's cluster if it is only
# stopped; installs one from Debian's packages if there is none. Exits 1 with one line if no server
# can be had, so that scripts/test can skip those tests instead of failing them.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
wait_up() { for _ in $(seq 1 60); do answers && return 0; sleep 0.5; done; return 1; }
cluster() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }

answers && exit 0
if [ -z "$(cluster)" ] && command -v apt-get >/dev/null 2>&1; then
    echo "postgres: none installed; installing PostgreSQL from Debian's packages"
    $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q --no-install-recommends postgresql >/dev/null
fi
version=$(cluster)
if [ -n "$version" ]; then
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if [ -f "$hba" ] && ! grep -q "meshclaw-tests" "$hba"; then
        # Loopback only, for the throwaway test databases; added at the top so it is matched first.
        { echo "host all postgres 127.0.0.1/32 trust # meshclaw-tests"; cat "$hba"; } | $SUDO tee "$hba.new" >/dev/null \
            && $SUDO mv "$hba.new" "$hba"
    fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 \
        || $SUDO pg_ctlcluster "$version" main start >/dev/null 2>&1 || true
fi
if wait_up; then
    echo "postgres: running on 127.0.0.1:5432"
    exit 0
fi
echo "postgres: no PostgreSQL server on 127.0.0.1:5432 could be started; the tests marked postgres are skipped"
exit 1
