# Set-up, demo and tests of vh-runner. Needs only cargo, gcc/g++, python3
# (with venv and pip) and make; everything else is installed here.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
CARGO ?= cargo
# Python 2.7 of the Python 2 worker tests: pyenv's 2.7.18 on this
# image; empty lets the tests look on PATH themselves (they fail under
# CI=true when they find none).
PYTHON2 ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/2.7.18/bin/python2.7 $(HOME)/.pyenv/versions/2.7.18/bin/python2.7))

.PHONY: all build venv sdk demo-venv demo demo-short test fuzz-replay realhub-test realhub-bench lint structure rust-test py-test wheel-check bench bench-venv bench-rss bench-short deb deb-check clean

all: build

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet "maturin>=1.9,<2" "pytest>=8" "ruff>=0.6" "mypy>=1.11"
	$(VPY) -m pip install --quiet -r examples/requirements.txt

venv: $(VPY)

# The vh package (pyo3 extension + Python sources) into the venv, editable.
sdk: $(VPY)
	cd py-sdk && VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(VENV)/bin:$$PATH maturin develop --quiet

build: sdk
	$(CARGO) build

# Main job: runner + simulated hub replaying a real chat session through
# the example scripts, on release builds (what a hub would see): release
# shim, runner and hubsim, and the release `vh` package with the examples'
# dependencies in target/demo-venv. `$(VPY) examples/demo.py` after
# `make build` runs it on the debug build.
DEMO_PY := target/demo-venv/bin/python
demo-venv: $(VPY)
	$(CARGO) build --release -p vh-host-shim -p vh-runner -p vh-hubsim
	rm -rf target/demo-wheels
	cd py-sdk && $(CURDIR)/$(VENV)/bin/maturin build --quiet --release --out $(CURDIR)/target/demo-wheels
	test -x $(DEMO_PY) || $(PYTHON) -m venv target/demo-venv
	$(DEMO_PY) -m pip install --quiet --force-reinstall --no-deps target/demo-wheels/vh_runner_sdk-*.whl
	$(DEMO_PY) -m pip install --quiet -r examples/requirements.txt

demo: demo-venv
	$(DEMO_PY) examples/demo.py --release $(if $(PYTHON2),--python2 $(PYTHON2))

demo-short: demo-venv
	$(DEMO_PY) examples/demo.py --release --short $(if $(PYTHON2),--python2 $(PYTHON2))

lint: $(VPY)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PYTHON) tools/structure.py
	$(PYTHON) tools/in_repo.py

# Module sizes and import cycles (tools/structure.py says how).
structure:
	$(PYTHON) tools/structure.py

rust-test: build
	VH_TEST_PYTHON=$(CURDIR)/$(VPY) VH_TEST_PYTHON2=$(PYTHON2) $(CARGO) test

py-test: build
	VH_TEST_PYTHON2=$(PYTHON2) $(VPY) -m pytest -q examples py-sdk/tests

# The abi3 wheel builds and installs into a fresh venv, and imports there.
wheel-check: $(VPY)
	rm -rf target/wheels target/wheel-venv
	cd py-sdk && $(CURDIR)/$(VENV)/bin/maturin build --quiet --out $(CURDIR)/target/wheels
	$(PYTHON) -m venv target/wheel-venv
	target/wheel-venv/bin/pip install --quiet target/wheels/vh_runner_sdk-*.whl
	cd /tmp && $(CURDIR)/target/wheel-venv/bin/python -c "import vh, vh._core, vh.testing; print('wheel ok:', vh._core.__version__)"

# Benchmarks (docs/performance.md): release binaries and a release build of
# the vh package in its own venv, then the full run (about 5 minutes);
# bench-rss: only a worker's idle RSS against bare python3 (seconds).
bench-venv: $(VPY)
	$(CARGO) build --release -p vh-host-shim -p vh-runner -p vh-hubsim -p vh-bench
	rm -rf target/bench-wheels && $(PYTHON) -m venv target/bench-venv
	cd py-sdk && $(CURDIR)/$(VENV)/bin/maturin build --quiet --release --out $(CURDIR)/target/bench-wheels
	target/bench-venv/bin/python -m pip install --quiet --force-reinstall target/bench-wheels/vh_runner_sdk-*.whl

bench: bench-venv
	target/release/vh-bench --python target/bench-venv/bin/python

bench-rss: bench-venv
	target/release/vh-bench --rss --python target/bench-venv/bin/python

# The bench still runs (small counts, debug build; figures not judged).
bench-short: build
	$(CARGO) test -p vh-bench
	VH_BENCH_PYTHON2=$(PYTHON2) $(CARGO) run -p vh-bench -- --short

# The Debian package (target/debian/vh-runner_*.deb): release runner and
# shim, the `vh` package unpacked from the release abi3 wheel, packaging/
# (unit, commented runner.toml, postinst). cargo-deb is installed from
# crates.io when missing (a few minutes, once). deb-check: its contents, and the packaged runner
# and shim run from an unpacked copy (packaging/deb-check.sh).
DEB_PY := target/release/deb-python
# Pinned: how asset globs keep subfolders changed between cargo-deb 2 and 3.
CARGO_DEB_VERSION := 3.8.0
deb: $(VPY)
	$(CARGO) build --release -p vh-runner -p vh-host-shim
	rm -rf target/deb-wheels $(DEB_PY) target/debian
	cd py-sdk && $(CURDIR)/$(VENV)/bin/maturin build --quiet --release --out $(CURDIR)/target/deb-wheels
	$(VPY) -m zipfile -e target/deb-wheels/vh_runner_sdk-*.whl $(DEB_PY)
	rm -rf $(DEB_PY)/*.dist-info
	$(CARGO) deb --version 2>/dev/null | grep -qxF "cargo-deb $(CARGO_DEB_VERSION)" \
		|| $(CARGO) install cargo-deb --locked --version $(CARGO_DEB_VERSION)
	$(CARGO) deb -p vh-runner --no-build --strip --output target/debian/

deb-check: deb build
	packaging/deb-check.sh target/debian/vh-runner_*.deb target/debug/hubsim

# Every test: lints, Rust unit and integration tests (real runner, real
# workers, the shim driven from C), Python tests, the wheel in a fresh venv,
# the benchmark in its short mode.
test: lint rust-test wheel-check bench-short py-test fuzz-replay

# Every committed fuzz input (seeds and regressions) through its harness, on
# stable Rust (fuzz/README.md "Replay"); fuzz/ is its own workspace.
fuzz-replay:
	$(CARGO) test --manifest-path fuzz/Cargo.toml

# The real, unchanged Verlihub of both plugin generations (tests/realhub/):
# each built once from VERLIHUB_SRC_A / VERLIHUB_SRC_B into target/realhub/
# (about 2-3 minutes each with -j2, then cached by a hash of the sources),
# a private MariaDB on loopback, NMDC sessions run in-process and through
# vh-runner and compared. Needs the Debian packages .ci/run installs; skipped
# with a message when the sources are not set, failed under CI=true. Not
# part of `make test`.
realhub-test: build
	VH_TEST_PYTHON=$(CURDIR)/$(VPY) VH_TEST_PYTHON2=$(PYTHON2) $(VPY) -m pytest -q -rs tests/realhub

# Main-chat lines answered by a script with vh.usermc on the real hubs, the
# script in-process and through vh-runner (release shim, runner and vh
# package, as `make bench`): µs per line and the ratio (docs/performance.md).
realhub-bench: bench-venv
	VH_REALHUB_PROFILE=release VH_TEST_PYTHON=$(CURDIR)/target/bench-venv/bin/python \
		VH_TEST_PYTHON2=$(PYTHON2) $(VPY) tests/realhub/bench.py

clean:
	$(CARGO) clean
	rm -rf $(VENV)
