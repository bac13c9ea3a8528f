//! `modelmart`: the ModelMart command line — `dev` (a whole local marketplace), `buyer`,
//! `seller` and `operator` commands over the SDK, and the `coprocessor` service.

mod cmd;
mod output;

use clap::Parser;

fn main() -> eyre::Result<()> {
    let cli = cmd::Cli::parse();
    output::init_tracing(cli.verbose, cli.quiet, cli.json);
    let out = output::Output::new(cli.json, cli.quiet);
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(cmd::run(cli.command, &out));
    if let Err(e) = &result {
        out.error(e);
        std::process::exit(1);
    }
    Ok(())
}
