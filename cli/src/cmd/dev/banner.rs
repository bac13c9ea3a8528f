//! What `modelmart dev` prints once the stack is up: URLs, contracts, the listed models, the
//! demo accounts and a buyer command to try (one JSON object with `--json`).

use serde_json::json;

use super::{demo, demo::Listed, stack::Stack};
use crate::output::Output;

/// Where everything runs.
pub(super) struct Urls {
    /// The indexer API's base URL.
    pub(super) indexer: String,
    /// The operator's endpoint.
    pub(super) coprocessor: String,
    /// The web dApp, when built.
    pub(super) web: Option<String>,
}

/// Print the banner.
pub(super) fn print(out: &Output, stack: &Stack, urls: &Urls, listed: &[Listed]) {
    let rpc = stack.rpc_url();
    let accounts = stack.accounts(6);
    let models: Vec<_> =
        listed.iter().map(|l| (l.model_id, l.demo.card.name.as_str(), l.price)).collect();
    out.result(
        json!({
            "rpc_url": rpc, "chain_id": stack.chain_id(), "market": stack.market.to_string(), "token": stack.token.to_string(),
            "indexer": urls.indexer, "coprocessor": urls.coprocessor, "web": urls.web,
            "models": models.iter().map(|(id, name, price)| json!({ "model_id": id, "name": name, "price": price })).collect::<Vec<_>>(),
            "accounts": { "owner": accounts[0], "operator": accounts[1], "seller": accounts[2], "buyers": &accounts[3..] },
        }),
        || {
            let mut s = format!(
                "ModelMart dev stack\n  web dApp     {}\n  RPC          {rpc} (chain id {})\n  ModelMarket  {}\n  mUSD token   {} (6 decimals, permit, anyone may mint)\n  indexer API  {}/v1/models  (OpenAPI /openapi.json, live /v1/stream)\n  coprocessor  {}  (/healthz, /metrics, /v1/blobs)\n  models\n",
                urls.web.as_deref().unwrap_or("not built (make web)"), stack.chain_id(), stack.market, stack.token, urls.indexer, urls.coprocessor
            );
            for (id, name, price) in &models {
                s.push_str(&format!("    {id}  {name}  {price}\n"));
            }
            s.push_str(&format!(
                "  accounts (anvil's default mnemonic \"test test ... junk\")\n    owner/treasury {}\n    operator       {}\n    seller         {}\n    buyers         {} (10000 ETH, 1,000,000 mUSD each)\n  try: MODELMART_CONTRACT={} MODELMART_PRIVATE_KEY=<buyer key> MODELMART_PASSPHRASE=dev modelmart buyer infer --model 1 --csv {}/data/breast_cancer_test.csv --rows 2\nCtrl-C stops everything.",
                accounts[0], accounts[1], accounts[2], accounts[3..].join(", "), stack.market, demo::fixtures_dir()
            ));
            s
        },
    );
}
