//! The flag groups the services share. Every flag reads `MODELMART_<NAME>` from the environment
//! too; defaults and range checks are defined here once.

use std::time::Duration;

use alloy::primitives::Address;
use modelmart_index::{
    FollowerConfig,
    follower::{DEFAULT_MAX_RANGE, DEFAULT_POLL_MS, DEFAULT_REORG_WINDOW},
};
use tracing_subscriber::EnvFilter;

/// The JSON-RPC URL every binary uses unless told otherwise (`modelmart dev`'s anvil).
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8545";

/// Which chain and which market.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct ChainArgs {
    /// JSON-RPC URL of the node.
    #[arg(long, env = "MODELMART_RPC_URL", default_value = DEFAULT_RPC_URL)]
    pub rpc_url: String,
    /// ModelMarket contract address.
    #[arg(long, env = "MODELMART_CONTRACT")]
    pub contract: Address,
    /// Block the contract was deployed in (following starts there on an empty database).
    #[arg(long, env = "MODELMART_START_BLOCK", default_value_t = 0)]
    pub start_block: u64,
}

impl ChainArgs {
    /// The market at `contract` on `rpc_url`, followed from `start_block`.
    pub fn new(rpc_url: impl Into<String>, contract: Address, start_block: u64) -> Self {
        Self { rpc_url: rpc_url.into(), contract, start_block }
    }
}

/// How the chain is followed.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct FollowArgs {
    /// Blocks a block must be buried under before it is indexed (and its jobs taken); default
    /// 0 on a dev chain (chain id 31337 or 1337), 2 elsewhere.
    #[arg(long, env = "MODELMART_CONFIRMATIONS")]
    pub confirmations: Option<u64>,
    /// Milliseconds between polls once caught up (10 to 60000).
    #[arg(long, env = "MODELMART_POLL_MS", default_value_t = DEFAULT_POLL_MS,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub poll_ms: u64,
    /// Largest `eth_getLogs` block range (shrinks when the node refuses, grows back).
    #[arg(long, env = "MODELMART_MAX_RANGE", default_value_t = DEFAULT_MAX_RANGE,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_range: u64,
    /// Blocks of hashes kept for reorg detection (at least 16).
    #[arg(long, env = "MODELMART_REORG_WINDOW", default_value_t = DEFAULT_REORG_WINDOW,
          value_parser = clap::value_parser!(u64).range(16..))]
    pub reorg_window: u64,
}

impl Default for FollowArgs {
    fn default() -> Self {
        Self {
            confirmations: None,
            poll_ms: DEFAULT_POLL_MS,
            max_range: DEFAULT_MAX_RANGE,
            reorg_window: DEFAULT_REORG_WINDOW,
        }
    }
}

/// Chain ids of local development chains (anvil, Hardhat, Ganache), where blocks never reorg.
pub const DEV_CHAIN_IDS: [u64; 2] = [31_337, 1_337];

/// Confirmations when none are given: none on a dev chain; two blocks elsewhere, so that a
/// request reorganized out of the chain is not taken.
pub fn default_confirmations(chain_id: u64) -> u64 {
    if DEV_CHAIN_IDS.contains(&chain_id) { 0 } else { 2 }
}

impl FollowArgs {
    /// The pause between polls.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    /// The follower's settings for `chain`, whose EIP-155 id is `chain_id`.
    pub fn follower_config(&self, chain: &ChainArgs, chain_id: u64) -> FollowerConfig {
        FollowerConfig {
            contract: chain.contract,
            start_block: chain.start_block,
            confirmations: self.confirmations.unwrap_or_else(|| default_confirmations(chain_id)),
            poll_interval: self.poll_interval(),
            max_range: self.max_range,
            reorg_window: self.reorg_window,
            ..FollowerConfig::default()
        }
    }
}

/// Whose defaults [`LogArgs::init_tracing`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// A long-running service: `info` for everything.
    Service,
    /// A command: ModelMart's own `info`, everything else `warn`.
    Command,
}

/// Logging, global to every subcommand.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct LogArgs {
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Machine-readable output: logs as JSON lines on stderr (and a command's results as JSON
    /// lines on stdout).
    #[arg(long, global = true)]
    pub json: bool,
}

impl LogArgs {
    /// The `tracing` filter these flags ask for (`RUST_LOG` wins over it when set).
    pub fn filter(&self, who: Verbosity) -> String {
        const LEVELS: [&str; 4] = ["warn", "info", "debug", "trace"];
        let at = |i: usize| LEVELS[i.min(LEVELS.len() - 1)];
        let v = usize::from(self.verbose);
        let level = match (self.quiet, who) {
            (true, _) => "error".to_owned(),
            (false, Verbosity::Service) => at(v + 1).to_owned(),
            (false, Verbosity::Command) => format!("{},modelmart={}", at(v), at(v + 1)),
        };
        format!("{level},sqlx=warn,hyper=warn")
    }

    /// Log to stderr at the level the flags ask for, as text or JSON lines. Call once, first.
    pub fn init_tracing(&self, who: Verbosity) {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(self.filter(who)));
        let builder =
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
        // a second call (tests) keeps the first subscriber
        let _ = if self.json { builder.json().try_init() } else { builder.try_init() };
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        chain: ChainArgs,
        #[command(flatten)]
        follow: FollowArgs,
        #[command(flatten)]
        log: LogArgs,
    }

    const MARKET: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

    #[test]
    fn defaults_are_the_follower_defaults_and_ranges_are_checked() {
        let cli = Cli::try_parse_from(["x", "--contract", MARKET]).map_err(|e| e.to_string());
        let cli = cli.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cli.follow, FollowArgs::default());
        let cfg = cli.follow.follower_config(&cli.chain, 31_337);
        assert_eq!(cfg.confirmations, 0, "a dev chain needs none");
        assert_eq!(cli.follow.follower_config(&cli.chain, 1).confirmations, 2, "mainnet");
        let given = FollowArgs { confirmations: Some(0), ..FollowArgs::default() };
        assert_eq!(given.follower_config(&cli.chain, 1).confirmations, 0, "a given count wins");
        let dflt = FollowerConfig::default();
        assert_eq!(
            (cfg.poll_interval, cfg.max_range, cfg.reorg_window),
            (dflt.poll_interval, dflt.max_range, dflt.reorg_window)
        );
        assert_eq!(cli.chain.rpc_url, DEFAULT_RPC_URL);
        for bad in [["--poll-ms", "0"], ["--max-range", "0"], ["--reorg-window", "3"]] {
            let args = ["x", "--contract", MARKET, bad[0], bad[1]];
            assert!(Cli::try_parse_from(args).is_err(), "{bad:?} accepted");
        }
        assert!(Cli::try_parse_from(["x"]).is_err(), "the contract is required");
    }

    #[test]
    fn verbosity_ladders() {
        let log = |verbose, quiet| LogArgs { verbose, quiet, json: false };
        assert!(log(0, false).filter(Verbosity::Service).starts_with("info,"));
        assert!(log(2, false).filter(Verbosity::Service).starts_with("trace,"));
        assert!(log(0, false).filter(Verbosity::Command).starts_with("warn,modelmart=info,"));
        assert!(log(1, false).filter(Verbosity::Command).starts_with("info,modelmart=debug,"));
        assert!(log(5, true).filter(Verbosity::Command).starts_with("error,"));
    }
}
