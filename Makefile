# Two commands do all set-up on a fresh Debian 12 machine, as root:
#   make demo    the classic two-node cluster on this machine, failing over and back
#   make test    the whole test suite
PYTHON    ?= python3
VENV      ?= .venv
PREFIX    ?= /usr
DESTDIR   ?=
PYTEST_ARGS ?=

# Kernel-facing tools, plus the real heartbeat/drbd-utils/resource-agents that tests use
# as reference peers. nbd-client: where the kernel has the nbd module (Debian 12's does),
# the DRBD engine serves /dev/drbdN through it rather than nbdfuse.
DEB_RUNTIME = iproute2 nftables e2fsprogs fuse3 libnbd-bin util-linux arping procps \
              psmisc iputils-ping kmod nbd-client
DEB_TEST    = python3-venv xfsprogs nbdkit heartbeat resource-agents drbd-utils net-tools \
              qemu-utils
DEB_BENCH   = fio

.PHONY: all deps deps-bench venv test unit demo bench install uninstall clean check

all: venv

deps:
	@bash tools/apt-ensure.sh $(DEB_RUNTIME) $(DEB_TEST)

deps-bench: deps
	@bash tools/apt-ensure.sh $(DEB_BENCH)

$(VENV)/.stamp: setup.cfg setup.py
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || bash tools/apt-ensure.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.stamp

test: deps venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS) tests

unit: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider tests/unit

check: venv
	$(VENV)/bin/heartbeat --check

demo: deps venv
	$(VENV)/bin/python -m tests.e2e.demo

bench: deps-bench venv
	$(VENV)/bin/pip install -q -e '.[bench]'
	$(VENV)/bin/python -m bench.run

install: venv
	bash tools/install.sh install "$(DESTDIR)" "$(PREFIX)" "$(CURDIR)" "$(VENV)"

uninstall:
	bash tools/install.sh uninstall "$(DESTDIR)" "$(PREFIX)" "$(CURDIR)" "$(VENV)"

clean:
	rm -rf $(VENV) build dist *.egg-info
