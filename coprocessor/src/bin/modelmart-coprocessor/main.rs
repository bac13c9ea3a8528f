//! `modelmart-coprocessor`: the operator's service (blob endpoint, listings, jobs), the same as
//! `modelmart coprocessor`. Settings: flags > `MODELMART_*` environment > `--config` TOML file >
//! defaults. Stops on SIGTERM or Ctrl-C, finishing current jobs.

fn main() -> eyre::Result<()> {
    modelmart_service::serve(
        "modelmart-coprocessor",
        "Run a ModelMart operator's coprocessor: blob endpoint, listings, jobs.",
        modelmart_coprocessor::service::run,
    )?;
    Ok(())
}
