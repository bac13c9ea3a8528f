//! `modelmart-fhe`: benchmark the FHE engine on the bundled models or on any ONNX model + CSV
//! (one JSON line per model on stdout), and print a compiled model's clear predictions.
#![allow(clippy::print_stdout)]

mod measure;
mod predict;

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
    /// Compile an ONNX model on a training CSV and print its clear answers for rows of a CSV.
    Predict(predict::PredictArgs),
}

fn main() -> eyre::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => measure::bench(&args),
        Command::Run(args) => measure::run(&args),
        Command::Predict(args) => predict::predict(&args),
    }
}
