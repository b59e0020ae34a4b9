# frontdesk — `make run` (daemon + built-in simulator with demo callers + simulated desk panel)
# and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= examples/frontdesk.toml

.PHONY: run test lint bench check-config rehearse clean install uninstall console-certificate

run: $(STAMP) examples/secrets/esl-password examples/prompts/moh/frontdesk-hold.wav var/messages var/.agenda
	$(BIN)/frontdesk check-config $(CONFIG)
	$(BIN)/frontdesk run --config $(CONFIG) --simulator auto --demo-callers 6 --panel-simulator

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench
	$(BIN)/mypy

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

check-config: $(STAMP) examples/secrets/esl-password var/messages
	$(BIN)/frontdesk check-config $(CONFIG)

rehearse: $(STAMP) examples/secrets/esl-password var/messages
	$(BIN)/frontdesk rehearse $(CONFIG)

# The example's hold music (local_stream://moh plays prompts/moh): synthesised, not in git.
examples/prompts/moh/frontdesk-hold.wav: | $(STAMP)
	$(BIN)/python -m frontdesk.holdmusic $(@D)

# The example's messages directory: FreeSWITCH creates none, and check-config requires it.
var/messages:
	@mkdir -p $@

# The example's directory for the demo: its three doctors, their hours, a consultation of 20
# minutes and a few fictional patients (examples/patients.csv), written once with the same
# `frontdesk agenda` commands a technician uses.
AGENDA := $(BIN)/frontdesk agenda
var/.agenda: $(STAMP) examples/secrets/esl-password | var/messages
	$(AGENDA) type add consultation 20 --config $(CONFIG)
	$(AGENDA) practitioner add martin "Docteur Martin" --config $(CONFIG)
	$(AGENDA) practitioner add durand "Docteure Durand" --config $(CONFIG)
	$(AGENDA) practitioner add bernard "Docteur Bernard" --config $(CONFIG)
	for who in martin durand bernard; do for day in monday tuesday wednesday thursday friday; do \
	  $(AGENDA) hours $$who $$day 08:30-12:30 14:00-19:00 --config $(CONFIG) || exit 1; done; done
	$(AGENDA) patients import examples/patients.csv --config $(CONFIG)
	@touch $@

# A random ESL password for the example config (never committed; the install makes its own).
examples/secrets/esl-password:
	@mkdir -p examples/secrets && chmod 700 examples/secrets
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(24))' > $@

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "frontdesk needs Python 3.11 or newer: sudo apt install python3"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "Python cannot create virtual environments here: sudo apt install python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# On the clinic's box: `sudo make install` / `sudo make uninstall` (README, "Install on the
# clinic's box"). PREFIX (default /opt/frontdesk) and DESTDIR (staging, tests) are honoured.
PREFIX ?= /opt/frontdesk
DESTDIR ?=
install:
	PYTHON=$(PYTHON) PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) tools/install.sh install

uninstall:
	PYTHON=$(PYTHON) PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) tools/install.sh uninstall

# HTTPS for the web console: `sudo make console-certificate ADDRESS=192.168.1.10 [NAMES=...]`
# (docs/console.md). Existing ones are kept.
console-certificate:
	DESTDIR=$(DESTDIR) tools/install.sh console-certificate $(ADDRESS) $(NAMES)

clean:
	rm -rf $(VENV) var build *.egg-info daemon/*.egg-info
