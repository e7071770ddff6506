# drillbook: `make demo` runs the first drill on the local sandbox, `make test` runs the tests.
# Both install what they need first (idempotent): Debian packages when missing, then a .venv.
VENV ?= .venv
PYTHON ?= python3
APT_PACKAGES := prometheus prometheus-redis-exporter prometheus-pushgateway redis-server redis-tools iptables iproute2 kmod
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
REPORTS ?= drill-reports

.PHONY: setup system-packages demo test test-fast lint down clean

setup: system-packages $(VENV)/.installed

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

demo: setup
	$(SUDO) $(VENV)/bin/drillbook run agent-down/oom --report-dir $(REPORTS)

test: setup lint
	$(SUDO) $(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test-fast: setup
	$(VENV)/bin/pytest -m "not slow"

down:
	$(SUDO) $(VENV)/bin/drillbook down

clean: down
	rm -rf $(VENV) $(REPORTS)
