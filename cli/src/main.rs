//! `modelmart`: the ModelMart command line — `dev` (a whole local marketplace), `buyer`,
//! `seller` and `operator` commands over the SDK, and the `coprocessor` service.

mod cmd;
mod output;

use modelmart_service::Verbosity;

fn main() -> eyre::Result<()> {
    let cli: cmd::Cli = modelmart_service::parse_or_exit();
    cli.log.init_tracing(Verbosity::Command);
    let out = output::Output::new(cli.log.json, cli.log.quiet);
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(cmd::run(cli.command, &out));
    if let Err(e) = &result {
        out.error(e);
        std::process::exit(1);
    }
    Ok(())
}
