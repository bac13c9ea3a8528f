//! Subcommands, one file each.

mod buyer;
mod chain;
mod coprocessor;
mod dev;
mod model;
mod models;
mod operator;
mod seller;
mod web;

use clap::{Parser, Subcommand};

use crate::output::Output;

/// The ModelMart command line.
#[derive(Debug, Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) log: modelmart_service::LogArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a whole local marketplace: chain, contracts, indexer, coprocessor, demo models.
    Dev(dev::DevArgs),
    /// Show a listing: terms, status and its verified model card.
    Model(model::ModelArgs),
    /// Browse the market's models (from the indexer; no wallet needed).
    Models(models::ModelsArgs),
    /// Buyer: keys, inference.
    #[command(subcommand)]
    Buyer(buyer::BuyerCmd),
    /// Seller: publish a model, reprice, pause, delist, earnings.
    #[command(subcommand)]
    Seller(seller::SellerCmd),
    /// Operator: register, stake, unbond, withdraw fees.
    #[command(subcommand)]
    Operator(operator::OperatorCmd),
    /// Run the coprocessor service (blob endpoint, listings, jobs).
    Coprocessor(Box<coprocessor::CoprocessorCmd>),
}

pub(crate) async fn run(cmd: Command, out: &Output) -> eyre::Result<()> {
    match cmd {
        Command::Dev(a) => dev::run(a, out).await,
        Command::Model(a) => model::run(a, out).await,
        Command::Models(a) => models::run(a, out).await,
        Command::Buyer(c) => buyer::run(c, out).await,
        Command::Seller(c) => seller::run(c, out).await,
        Command::Operator(c) => operator::run(c, out).await,
        Command::Coprocessor(c) => coprocessor::run(*c).await,
    }
}
