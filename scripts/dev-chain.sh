#!/usr/bin/env bash
# `make dev`: start a local anvil chain, deploy the ModelMart contracts and a permit test token,
# print the addresses and funded accounts, and keep running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../contracts"
PORT=${MODELMART_RPC_PORT:-8545}
ANVIL=node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
FORGE=node_modules/@foundry-rs/forge-linux-amd64/bin/forge
CAST=node_modules/@foundry-rs/cast-linux-amd64/bin/cast
RPC=http://127.0.0.1:$PORT

"$ANVIL" --port "$PORT" --block-time "${MODELMART_BLOCK_TIME:-1}" --silent &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null; wait $anvil_pid 2>/dev/null; echo; echo "stopped"' EXIT INT TERM
for _ in $(seq 1 50); do "$CAST" chain-id --rpc-url "$RPC" >/dev/null 2>&1 && break; sleep 0.1; done

"$FORGE" script script/Deploy.s.sol --rpc-url "$RPC" --broadcast --slow >/tmp/modelmart-deploy.log 2>&1 \
  || { cat /tmp/modelmart-deploy.log; exit 1; }
run=broadcast/Deploy.s.sol/$("$CAST" chain-id --rpc-url "$RPC")/run-latest.json
market=$(node -e "const r=require('./$run');console.log(r.transactions.find(t=>t.contractName==='ModelMarket').contractAddress)")
token=$(node -e "const r=require('./$run');console.log(r.transactions.find(t=>t.contractName==='TestToken').contractAddress)")

cat <<INFO

ModelMart local chain
  RPC          $RPC  (chain id $("$CAST" chain-id --rpc-url "$RPC"))
  ModelMarket  $market
  TestToken    $token  (mUSD, 6 decimals, permit; anyone may mint)
  accounts     anvil's default mnemonic "test test test test test test test test test test test junk"
               0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 deployer/owner/treasury (10000 ETH)
               0x70997970C51812dc3A010C7d01b50e0d17dc79C8 .. and 8 more, 10000 ETH each
Ctrl-C stops the chain.
INFO
wait $anvil_pid
