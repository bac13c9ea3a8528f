//! `modelmart-indexer`: follow the ModelMart contracts into SQL and serve the marketplace API.
//! Settings: flags > `MODELMART_*` environment > `--config` TOML file > defaults; stops on
//! SIGTERM or Ctrl-C.

fn main() -> eyre::Result<()> {
    modelmart_service::serve(
        "modelmart-indexer",
        "Follow the ModelMart contracts into SQL and serve the marketplace API.",
        modelmart_indexer::service::run,
    )?;
    Ok(())
}
