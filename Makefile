# zoo — see README.md. Every target works on a fresh machine after .ci/run's installs.
GO      ?= go
BIN     := bin/zoo
ORT_LIB := lib/libonnxruntime.so.1

.PHONY: build test run bench fuzz vet clean mutation

# The TorchScript shim lib/libzootorch.so is built where libtorch-dev is
# installed (skipped with a message elsewhere: zoo then runs ONNX only).
# The in-browser runner (browser-runtime/: ONNX Runtime Web from npm,
# checksum verified, and zoo's runner compiled to WebAssembly) is
# installed too; without npm the pages run every model on the server.
build: $(ORT_LIB)
	scripts/build-torch-shim.sh
	GO=$(GO) scripts/install-browser-runtime.sh
	@echo "make: building $(BIN) (the first build downloads and compiles the Go modules: about a minute)"
	$(GO) build -o $(BIN) ./cmd/zoo

# The ONNX Runtime library comes from the npm package, checksum verified.
$(ORT_LIB): scripts/install-onnxruntime.sh
	scripts/install-onnxruntime.sh

# Every test: unit, conformance suites against real PostgreSQL and S3
# (started for the run by scripts/with-test-services.sh), fixtures, real
# ONNX Runtime.
# ZOO_TEST_STRICT=1 (internal/testenv): a test whose dependency is missing —
# the shared fixtures, ONNX Runtime, libtorch, PyTorch, bubblewrap,
# PostgreSQL, S3, Chromium, the npm test clients — FAILS, saying what to
# install, instead of skipping. `make test ZOO_TEST_STRICT=0` skips them.
# The npm test clients are looked for in .tools/npm
# (scripts/install-test-clients.sh, which .ci/run runs).
ZOO_TEST_STRICT ?= 1
ZOO_TEST_NPM ?= $(CURDIR)/.tools/npm
ZOO_TEST_HFJS ?= $(ZOO_TEST_NPM)
test: build
	$(GO) vet ./...
	ZOO_TEST_STRICT=$(ZOO_TEST_STRICT) ZOO_TEST_NPM=$(ZOO_TEST_NPM) ZOO_TEST_HFJS=$(ZOO_TEST_HFJS) \
	  scripts/with-test-services.sh $(GO) test -count=1 -timeout 30m ./...

# The embedded server on http://127.0.0.1:8080 (SQLite + blobs under
# ./zoo-data). On first start it publishes the example packages in SEED and
# in SEED_LOCAL (zoo's own examples: a state-dict-only model, converted where
# python3-torch and bubblewrap are installed); a missing folder is reported
# and skipped.
# ADDR is where it listens (make run ADDR=127.0.0.1:9090).
SEED ?= ../shared/fixtures/packages
SEED_LOCAL ?= examples/packages
ADDR ?= 127.0.0.1:8080
run: build
	$(BIN) serve --addr $(ADDR) --seed $(SEED) --seed $(SEED_LOCAL)

# Benchmarks; results are recorded in bench/RESULTS.md.
bench: build
	bench/run.sh

# A short run of every fuzz target (FUZZTIME=30s per target by default).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Mutation testing (go-gremlins) of the packages whose bugs hurt users most,
# one package at a time, with a per-package table at the end. Slow (hours for
# every package on 2 cores), so not part of `test`: MUTATION_PKGS picks
# packages (make mutation MUTATION_PKGS="score session"). Results are
# recorded in bench/RESULTS.md ("Mutation testing").
MUTATION_PKGS ?=
mutation:
	scripts/mutation.sh $(MUTATION_PKGS)

clean:
	rm -rf bin
