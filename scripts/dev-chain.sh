#!/usr/bin/env bash
# `make dev`: start a local anvil chain, deploy the ModelMart contracts and a permit test token,
# start the indexer (SQLite in .modelmart/dev/) with its API, print the addresses, URLs and funded
# accounts, and keep running until Ctrl-C, which stops everything.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
PORT=${MODELMART_RPC_PORT:-8545}
ANVIL=node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
FORGE=node_modules/@foundry-rs/forge-linux-amd64/bin/forge
CAST=node_modules/@foundry-rs/cast-linux-amd64/bin/cast
RPC=http://127.0.0.1:$PORT

API=${MODELMART_INDEXER_LISTEN:-127.0.0.1:8600}
STATE=../.modelmart/dev
mkdir -p "$STATE" && rm -f "$STATE"/index.db*   # a fresh chain needs a fresh index
(cd .. && cargo build -q -p modelmart-indexer)

"$ANVIL" --port "$PORT" --block-time "${MODELMART_BLOCK_TIME:-1}" --silent &
anvil_pid=$!
indexer_pid=
trap 'kill $indexer_pid $anvil_pid 2>/dev/null; wait $indexer_pid $anvil_pid 2>/dev/null; echo; echo "stopped"' EXIT INT TERM
for _ in $(seq 1 50); do "$CAST" chain-id --rpc-url "$RPC" >/dev/null 2>&1 && break; sleep 0.1; done

"$FORGE" script script/Deploy.s.sol --rpc-url "$RPC" --broadcast --slow >/tmp/modelmart-deploy.log 2>&1 \
  || { cat /tmp/modelmart-deploy.log; exit 1; }
run=broadcast/Deploy.s.sol/$("$CAST" chain-id --rpc-url "$RPC")/run-latest.json
market=$(node -e "const r=require('./$run');console.log(r.transactions.find(t=>t.contractName==='ModelMarket').contractAddress)")
token=$(node -e "const r=require('./$run');console.log(r.transactions.find(t=>t.contractName==='TestToken').contractAddress)")

../target/debug/modelmart-indexer -q --rpc-url "$RPC" --contract "$market" --start-block 0 \
  --database-url "sqlite:$STATE/index.db" --listen "$API" &
indexer_pid=$!
for _ in $(seq 1 100); do curl -sf "http://$API/healthz" >/dev/null && break; sleep 0.1; done

cat <<INFO

ModelMart local chain
  RPC          $RPC  (chain id $("$CAST" chain-id --rpc-url "$RPC"))
  ModelMarket  $market
  TestToken    $token  (mUSD, 6 decimals, permit; anyone may mint)
  indexer API  http://$API/v1/models  (OpenAPI: /openapi.json, live: /v1/stream, /healthz, /metrics)
  accounts     anvil's default mnemonic "test test test test test test test test test test test junk"
               0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 deployer/owner/treasury (10000 ETH)
               0x70997970C51812dc3A010C7d01b50e0d17dc79C8 .. and 8 more, 10000 ETH each
Ctrl-C stops everything.
INFO
wait $anvil_pid
