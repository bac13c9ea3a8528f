//! `modelmart-fhe`: benchmark the FHE engine on the bundled models or on any ONNX model + CSV.
//! It prints one JSON line per model on stdout.
#![allow(clippy::print_stdout)]

mod measure;

use clap::{Parser, Subcommand};

/// Benchmark ModelMart's FHE engine.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benchmark table on the bundled fixtures (one JSON line per model).
    Bench(measure::BenchArgs),
    /// Benchmark one ONNX model with a training CSV (calibration) and a test CSV.
    Run(measure::RunArgs),
}

fn main() -> eyre::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => measure::bench(&args),
        Command::Run(args) => measure::run(&args),
    }
}
