#!/usr/bin/env bash
# Install or remove frontdesk on the clinic's box (Debian 12 / Raspberry Pi OS).
#
#     tools/install.sh install | uninstall       (what `sudo make install|uninstall` runs)
#     tools/install.sh console-certificate ADDRESS [DNS-NAME...]
#                                                (`sudo make console-certificate ADDRESS=...`)
#
# Environment: PREFIX (default /opt/frontdesk), DESTDIR (default empty), PYTHON (python3).
# DESTDIR is for staging and tests: every file goes under it, no user is created and nothing
# is chowned or started, but the modes are the real ones. The venv is created at its final
# path inside DESTDIR and is not relocatable: a staged tree only works where it was staged.
#
# Kept, never overwritten: /etc/frontdesk/frontdesk.toml, the secrets in /etc/frontdesk/secrets,
# the prompt texts' renderings and the technician's recordings (prompts/custom), and all data
# in /var/lib/frontdesk. `uninstall` removes the software only.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/frontdesk}
DESTDIR=${DESTDIR:-}
PYTHON=${PYTHON:-python3}
BINDIR=${BINDIR:-/usr/local/bin}
ETC=/etc/frontdesk
STATE=/var/lib/frontdesk
UNITDIR=/etc/systemd/system
USER_NAME=frontdesk
FS_GROUP=freeswitch  # created by Debian's FreeSWITCH packages

VENV=$PREFIX/venv
real() { [ -z "$DESTDIR" ]; }
say() { printf 'frontdesk install: %s\n' "$*"; }

# chown only when installing for real (the user does not exist in a staging tree).
own() { if real; then chown "$@"; fi; }

install_software() {
  say "software into $DESTDIR$PREFIX"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "frontdesk needs Python 3.11 or newer" >&2; exit 1; }
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || {
    echo "Python cannot create virtual environments: sudo apt install python3-venv" >&2; exit 1; }
  install -d -m 0755 "$DESTDIR$PREFIX"
  rm -rf "$DESTDIR$VENV"
  "$PYTHON" -m venv "$DESTDIR$VENV"
  # A wheel built once from the source tree (no build isolation: setuptools is in the venv
  # pip made), then the wheel and its dependencies from PyPI or pip's cache.
  local wheels
  wheels=$(mktemp -d)
  "$DESTDIR$VENV/bin/pip" wheel --quiet --no-deps --no-build-isolation -w "$wheels" "$SRC" \
    2>/dev/null || "$DESTDIR$VENV/bin/pip" wheel --quiet --no-deps -w "$wheels" "$SRC"
  "$DESTDIR$VENV/bin/pip" install --quiet "$wheels"/frontdesk-*.whl
  rm -rf "$wheels" "$SRC/build"
  install -m 0644 "$SRC/README.md" "$DESTDIR$PREFIX/README.md"
  install -d -m 0755 "$DESTDIR$BINDIR"
  ln -sfn "$VENV/bin/frontdesk" "$DESTDIR$BINDIR/frontdesk"
}

create_user() {
  real || return 0
  if ! getent group "$USER_NAME" >/dev/null; then groupadd --system "$USER_NAME"; fi
  if ! getent passwd "$USER_NAME" >/dev/null; then
    useradd --system --gid "$USER_NAME" --home-dir "$STATE" --no-create-home \
      --shell /usr/sbin/nologin --comment "frontdesk telephone reception" "$USER_NAME"
  fi
  # The desk panel's serial port.
  if getent group dialout >/dev/null; then usermod -a -G dialout "$USER_NAME"; fi
}

install_config() {
  local etc=$DESTDIR$ETC
  install -d -m 0755 "$etc" "$etc/prompts" "$etc/prompts/custom"
  install -d -m 0750 "$etc/secrets"
  own "root:$USER_NAME" "$etc/secrets"
  if [ -e "$etc/frontdesk.toml" ]; then
    say "$ETC/frontdesk.toml exists: kept"
  else
    say "config into $ETC/frontdesk.toml (from examples/frontdesk.toml: adapt it)"
    # The example keeps its data next to the checkout; the box keeps it in $STATE.
    sed -e "s|^database = .*|database = \"$STATE/frontdesk.db\"|" \
        -e "s|^messages = .*|messages = \"$STATE/messages\"|" \
        "$SRC/examples/frontdesk.toml" > "$etc/frontdesk.toml"
    chmod 0640 "$etc/frontdesk.toml"
    own "root:$USER_NAME" "$etc/frontdesk.toml"
  fi
  # Prompts: the example's renderings and manifest where none exist yet; `frontdesk prompts`
  # below renders whatever the config's texts changed.
  local file
  for file in "$SRC"/examples/prompts/* "$SRC"/examples/prompts/.manifest.json; do
    [ -f "$file" ] || continue
    [ -e "$etc/prompts/$(basename "$file")" ] || install -m 0644 "$file" "$etc/prompts/"
  done
}

install_hold_music() {
  # FreeSWITCH's local_stream://moh plays the files of prompts/moh (local_stream.conf.xml):
  # without one it knows no such source and the callers on hold hear silence. A synthesised
  # tune is written there once; files the technician puts there are kept (all are played).
  install -d -m 0755 "$DESTDIR$ETC/prompts/moh"
  "$DESTDIR$VENV/bin/python" -m frontdesk.holdmusic "$DESTDIR$ETC/prompts/moh" >/dev/null
  say "hold music in $ETC/prompts/moh"
}

new_secret() {  # new_secret FILE: a random secret, mode 0600, owned by the daemon's user
  local file=$1
  if [ -e "$file" ]; then
    say "${file#"$DESTDIR"} exists: kept"
    return
  fi
  (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))' > "$file")
  chmod 0600 "$file"
  own "$USER_NAME:$USER_NAME" "$file"
  say "generated ${file#"$DESTDIR"} (mode 0600)"
}

install_secrets() {
  new_secret "$DESTDIR$ETC/secrets/esl-password"
}

freeswitch_group() {  # true when FreeSWITCH's group can be given files (always when staging)
  real || return 0
  getent group "$FS_GROUP" >/dev/null && return 0
  say "FreeSWITCH's group '$FS_GROUP' does not exist yet: install FreeSWITCH, then 'sudo make install' again"
  return 1
}

install_state() {
  # The state directory is the daemon's; FreeSWITCH only passes through it (0751) into the two
  # directories it writes: callers' messages and recordings (setgid: shared with its group).
  install -d -m 0751 "$DESTDIR$STATE"
  install -d -m 2770 "$DESTDIR$STATE/messages" "$DESTDIR$STATE/recordings"
  own "$USER_NAME:$USER_NAME" "$DESTDIR$STATE"
  if freeswitch_group; then
    own "$USER_NAME:$FS_GROUP" "$DESTDIR$STATE/messages" "$DESTDIR$STATE/recordings"
  fi
}

install_freeswitch_conf() {
  # The shipped FreeSWITCH configuration, refreshed on every install; the site files generated
  # beside it (frontdesk-vars.xml...) are kept. FreeSWITCH is pointed at it once (README).
  local conf=$DESTDIR$ETC/freeswitch
  say "FreeSWITCH configuration into $ETC/freeswitch"
  # setgid and FreeSWITCH's group: the generated files holding passwords (0640) are readable
  # by FreeSWITCH and by nobody else.
  install -d -m 2750 "$conf"
  if freeswitch_group; then own "root:$FS_GROUP" "$conf"; fi
  cp -r "$SRC"/freeswitch-conf/. "$conf/"
  # Each desk phone gets its own random password; the trunk's comes from the operator.
  "$DESTDIR$VENV/bin/frontdesk" freeswitch-config --new-phone-passwords \
    --config "$DESTDIR$ETC/frontdesk.toml" --output "$conf" \
    || say "frontdesk freeswitch-config could not finish: fix what it names, run it again"
}

install_units() {
  local unit
  install -d -m 0755 "$DESTDIR$UNITDIR"
  for unit in "$SRC"/systemd/*.service "$SRC"/systemd/*.timer; do
    [ -e "$unit" ] || continue
    sed "s|/opt/frontdesk|$PREFIX|g" "$unit" > "$DESTDIR$UNITDIR/$(basename "$unit")"
    chmod 0644 "$DESTDIR$UNITDIR/$(basename "$unit")"
  done
  if real && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
}

render_prompts() {
  if "$DESTDIR$VENV/bin/frontdesk" prompts --config "$DESTDIR$ETC/frontdesk.toml" >/dev/null; then
    say "prompts up to date in $ETC/prompts"
  else
    say "prompts not rendered (see above): run 'sudo frontdesk prompts' once it is fixed"
  fi
}

check() {
  if "$DESTDIR$VENV/bin/frontdesk" check-config "$DESTDIR$ETC/frontdesk.toml"; then
    say "done. Next: edit $ETC/frontdesk.toml, then 'sudo systemctl enable --now frontdesk'"
    say "the receptionists' web console stays off until [console] enabled = true (docs/console.md)"
  else
    say "installed, but the config above needs attention before the daemon will start"
  fi
}

console_certificate() {  # console_certificate ADDRESS [DNS-NAME...]: HTTPS for the console
  # A self-signed certificate for the address (and names) the desk's browsers use, valid 825
  # days (the longest some browsers accept), and its key readable by the daemon only. Never
  # replaces existing ones. Nothing listens until [console] is enabled (docs/console.md).
  local address=${1:-}
  [ -n "$address" ] || { echo "usage: $0 console-certificate ADDRESS [DNS-NAME...]" >&2; exit 2; }
  shift
  local secrets=$DESTDIR$ETC/secrets san="IP:$address" name
  local key=$secrets/console.key cert=$secrets/console.crt
  if [ -e "$key" ] || [ -e "$cert" ]; then
    say "$ETC/secrets/console.crt or console.key exists: kept (remove both for new ones)"
    return
  fi
  for name in "$@"; do san="$san,DNS:$name"; done
  install -d -m 0750 "$secrets"
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 825 -subj "/CN=frontdesk console" -addext "subjectAltName=$san" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
    -keyout "$key" -out "$cert" 2>/dev/null)
  chmod 0600 "$key"
  chmod 0644 "$cert"
  own "$USER_NAME:$USER_NAME" "$key" "$cert"
  say "console certificate for $san in $ETC/secrets/console.crt (key: console.key, mode 0600)"
  say "in [console]: certificate = \"secrets/console.crt\", private_key = \"secrets/console.key\""
  say "the desk's browsers check this fingerprint once: $(openssl x509 -in "$cert" -noout \
    -fingerprint -sha256 | cut -d= -f2)"
}

uninstall() {
  if real && [ -d /run/systemd/system ]; then
    systemctl disable --now frontdesk.service 2>/dev/null || true
  fi
  local unit
  for unit in "$SRC"/systemd/*.service "$SRC"/systemd/*.timer; do
    [ -e "$unit" ] && rm -f "$DESTDIR$UNITDIR/$(basename "$unit")"
  done
  if real && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  if [ "$(readlink "$DESTDIR$BINDIR/frontdesk" 2>/dev/null)" = "$VENV/bin/frontdesk" ]; then
    rm -f "$DESTDIR$BINDIR/frontdesk"
  fi
  rm -rf "$DESTDIR$VENV" "$DESTDIR$PREFIX/README.md"
  rmdir "$DESTDIR$PREFIX" 2>/dev/null || true
  say "software removed; kept $ETC (config, secrets, prompts) and $STATE (calls, messages)"
}

case ${1:-} in
  install)
    install_software
    create_user
    install_config
    install_hold_music
    install_secrets
    install_state
    install_freeswitch_conf
    install_units
    render_prompts
    check
    ;;
  uninstall) uninstall ;;
  console-certificate) shift; console_certificate "$@" ;;
  *) echo "usage: $0 install|uninstall|console-certificate ADDRESS [DNS-NAME...]" >&2; exit 2 ;;
esac
