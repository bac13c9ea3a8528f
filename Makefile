# ModelMart — composable targets. `make test` runs everything CI runs; `make help` lists targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CONTRACTS := contracts
# Call forge's real binary: the npm wrapper in node_modules/.bin exits 0 even when tests fail.
FORGE := $(CURDIR)/$(CONTRACTS)/node_modules/@foundry-rs/forge-linux-amd64/bin/forge
BIND_ARGS := --module --select '^(ModelMarket|TestToken)$$'
BINDINGS := sdk/bindings/src/generated
COVERAGE_MIN := 95
# The web dApp's FHE client: wasm-bindgen's CLI must be the version of the wasm-bindgen crate.
WASM_BINDGEN_VERSION := 0.2.130
WASM_BINDGEN := $(CURDIR)/.tools/bin/wasm-bindgen
WASM := target/wasm32-unknown-unknown/release/modelmart_wasm.wasm

.PHONY: help dev dev-check bench-e2e deps web web-wasm test-web test test-contracts coverage gas gas-snapshot test-rust test-fhe-agreement bench-fhe bench-indexer lint fmt bindings bindings-check

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

dev: deps web ## the whole local marketplace: chain, contracts, indexer, coprocessor, demo models, web dApp (Ctrl-C stops)
	cargo run -q -p modelmart-cli -- dev

deps: $(CONTRACTS)/node_modules/.installed ## install pinned npm tools (forge, anvil, cast, solc, OpenZeppelin)

$(CONTRACTS)/node_modules/.installed: $(CONTRACTS)/package-lock.json
	cd $(CONTRACTS) && npm ci --no-audit --no-fund
	touch $@

test: deps lint bindings-check test-contracts coverage gas test-rust test-fhe-agreement dev-check test-web ## everything: lint, bindings drift, contracts, coverage, gas, Rust, FHE agreement, dev stack, web dApp

# `modelmart models` must list the demo models with the jobs the check just ran (the pattern is
# unquoted: the whole command is inside single quotes); then both HTTP
# APIs against their committed specs, on the stack `dev-check` seeded (real listings and jobs): every check schemathesis has, its coverage, fuzzing and stateful phases. The live
# stream never ends a response, so it is left out; a blob upload is valid only when its bytes hash
# to the hash in its path, which no schema can say, so random uploads are expected to be refused
# (422) and "schema-valid data is accepted" is not checked there.
API_FUZZ_VENV := .tools/api-fuzz
API_FUZZ_ST = $(API_FUZZ_VENV)/bin/schemathesis run --checks all --workers 2 --seed 1 --max-failures 20
API_FUZZ = target/debug/modelmart --json models --indexer "$$MODELMART_INDEXER_URL" --sort jobs | grep -q jobs.:1 && \
  $(API_FUZZ_ST) indexer/openapi.json --url "$$MODELMART_INDEXER_URL" --exclude-path /v1/stream \
  --max-time 75 && $(API_FUZZ_ST) coprocessor/openapi.json --url "$$MODELMART_COPROCESSOR_URL" \
  --exclude-checks positive_data_acceptance --max-time 30

dev-check: deps $(API_FUZZ_VENV)/.installed ## `modelmart dev` on spare ports, one paid inference per demo model, then both HTTP APIs fuzzed against their specs; then exit
	cargo run -q -p modelmart-cli -- dev --check --rpc-port 18545 --indexer-listen 127.0.0.1:18600 \
	  --coprocessor-listen 127.0.0.1:18700 --dir .modelmart/dev-check --then '$(API_FUZZ)'

$(API_FUZZ_VENV)/.installed:
	python3 -m venv $(API_FUZZ_VENV)
	$(API_FUZZ_VENV)/bin/pip install -q --disable-pip-version-check schemathesis==4.32.5
	touch $@

test-contracts: deps ## forge tests (unit, fuzz, invariant)
	cd $(CONTRACTS) && $(FORGE) test

coverage: deps ## forge coverage on src/, fails under $(COVERAGE_MIN)% lines or branches
	cd $(CONTRACTS) && $(FORGE) coverage --report summary --no-match-coverage '(test|script)/' \
	  | tee /tmp/modelmart-coverage.txt | grep -E '^\| (File|Total|src/)'
	bash scripts/coverage-check.sh /tmp/modelmart-coverage.txt $(COVERAGE_MIN)

gas: deps ## gas of the hot paths, as separate transactions, checked against the committed snapshot
	cd $(CONTRACTS) && FOUNDRY_PROFILE=gas $(FORGE) snapshot --match-contract GasTest --check
	cd $(CONTRACTS) && git diff --exit-code snapshots/

gas-snapshot: deps ## re-record the gas snapshot
	cd $(CONTRACTS) && FOUNDRY_PROFILE=gas $(FORGE) snapshot --match-contract GasTest

test-rust: deps ## cargo tests of the whole workspace (anvil chain tests; the indexer's on SQLite and Postgres; bench smoke runs)
	cd $(CONTRACTS) && $(FORGE) build
	cargo test --workspace --all-targets
	cargo test --workspace --doc

test-fhe-agreement: ## encrypted == clear (release build): washed linear labels on whole test splits; 48 rows of the single-tree and one-layer network models' scores, 8 of the two-layer network's and of the ten-class argmax (`make bench-fhe` checks whole splits)
	cargo run --release -q -p modelmart-fhe-cli --bin modelmart-fhe -- bench \
	  --only logreg_breast_cancer,svm_breast_cancer --samples 1 --output label
	cargo run --release -q -p modelmart-fhe-cli --bin modelmart-fhe -- bench \
	  --only tree5_breast_cancer,tree4_diabetes,mlp30_16_2_breast_cancer --samples 1 --agreement-rows 48
	cargo run --release -q -p modelmart-fhe-cli --bin modelmart-fhe -- bench \
	  --only mlp30_16_8_2_breast_cancer --samples 1 --agreement-rows 8
	cargo run --release -q -p modelmart-fhe-cli --bin modelmart-fhe -- bench \
	  --only logreg_digits --samples 1 --agreement-rows 8 --output label

bench-indexer: deps ## the indexer's figures (BENCHMARKS.md): ingestion of 100k events into SQLite and Postgres, live lag, API p99
	cd $(CONTRACTS) && $(FORGE) build
	cargo bench -p modelmart-indexer --bench indexer

bench-e2e: deps ## end-to-end latency and throughput on anvil with 1-second blocks (BENCHMARKS.md)
	cargo bench -p modelmart-e2e --bench e2e

bench-fhe: ## the FHE engine's benchmark table (BENCHMARKS.md): one JSON line per model, ~55 min
	cargo run --release -q -p modelmart-fhe-cli --bin modelmart-fhe -- bench

$(WASM_BINDGEN):
	rustup target add wasm32-unknown-unknown
	cargo install -q wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root .tools

web/node_modules/.installed: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web-wasm: $(WASM_BINDGEN) ## compile the buyer's FHE client (web/wasm, modelmart-fhe) to WebAssembly for the page
	cargo build -q --release --target wasm32-unknown-unknown -p modelmart-wasm
	$(WASM_BINDGEN) --target web --out-dir web/src/wasm/pkg $(WASM)

web: web-wasm web/node_modules/.installed ## build the web dApp into web/dist (`modelmart dev` serves it)
	cd web && npm run -s build

test-web: web ## web dApp: Vitest unit tests, then chromium (Debian's, installed if missing) against a dev stack
	cd web && npx vitest run
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	cargo build -q -p modelmart-cli -p modelmart-fhe-cli --bins
	cd web && node --test --test-concurrency=1 e2e/

lint: deps ## rustfmt, clippy -D warnings, forge fmt --check
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cd $(CONTRACTS) && $(FORGE) fmt --check

fmt: deps ## format Rust and Solidity
	cargo fmt --all
	cd $(CONTRACTS) && $(FORGE) fmt

bindings: deps web/node_modules/.installed ## regenerate sdk/bindings and the web dApp's ABI module from the contracts, and its protocol terms (reasons, modes, blob kinds and limits) from sdk/primitives, and its indexer API types from indexer/openapi.json
	cd $(CONTRACTS) && $(FORGE) bind --bindings-path ../$(BINDINGS) $(BIND_ARGS) --overwrite
	node web/scripts/abi.mjs $(CONTRACTS)/out web/src/abi/ModelMarket.ts
	node web/scripts/protocol.mjs sdk/primitives/src web/src/abi/protocol.ts
	cd web && npx openapi-typescript ../indexer/openapi.json -o src/abi/indexer.ts

bindings-check: deps web/node_modules/.installed ## fail if the committed bindings differ from freshly generated ones
	tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  (cd $(CONTRACTS) && $(FORGE) bind --bindings-path $$tmp/generated $(BIND_ARGS) --overwrite >/dev/null) && \
	  diff -r $$tmp/generated $(BINDINGS) && \
	  node web/scripts/abi.mjs $(CONTRACTS)/out $$tmp/abi.ts && diff $$tmp/abi.ts web/src/abi/ModelMarket.ts && \
	  node web/scripts/protocol.mjs sdk/primitives/src $$tmp/protocol.ts && diff $$tmp/protocol.ts web/src/abi/protocol.ts && \
	  (cd web && npx openapi-typescript ../indexer/openapi.json -o $$tmp/indexer.ts >/dev/null) && diff $$tmp/indexer.ts web/src/abi/indexer.ts && \
	  echo "bindings up to date"
