//! Command line: global verbosity/format flags plus the service's settings, with a TOML file
//! filling whatever neither a flag nor the environment set.

use clap::{CommandFactory, FromArgMatches, Parser, parser::ValueSource};
use modelmart_indexer::service::IndexerArgs;
use tracing_subscriber::EnvFilter;

/// Follow the ModelMart contracts into SQL and serve the marketplace API.
#[derive(Debug, Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) indexer: IndexerArgs,
}

impl Cli {
    /// Parse flags and environment, then fill the rest from `--config` if given.
    pub(crate) fn load() -> eyre::Result<Self> {
        let args: Vec<String> = std::env::args().collect();
        // First pass tolerates a missing required flag: the file may provide it.
        let matches = Self::command().ignore_errors(true).get_matches_from(&args);
        let Some(path) = matches.get_one::<std::path::PathBuf>("config").cloned() else {
            return Ok(Self::from_arg_matches(&Self::command().get_matches_from(&args))?);
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| eyre::eyre!("config {}: {e}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| eyre::eyre!("config {}: {e}", path.display()))?;
        let mut argv = args;
        for (key, value) in table {
            let id = key.replace('-', "_");
            let cmd = Self::command();
            let long = cmd
                .get_arguments()
                .find(|a| a.get_id() == id.as_str())
                .and_then(|a| a.get_long())
                .ok_or_else(|| eyre::eyre!("config {}: unknown setting `{key}`", path.display()))?
                .to_owned();
            if matches!(matches.value_source(&id), Some(ValueSource::DefaultValue) | None) {
                let values = match value {
                    toml::Value::Array(items) => items,
                    v => vec![v],
                };
                for v in values {
                    let v = match v {
                        toml::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    argv.push(format!("--{long}={v}"));
                }
            }
        }
        Ok(Self::try_parse_from(argv)?)
    }
}

/// Log to stderr at the level the flags ask for (`RUST_LOG` wins when set).
pub(crate) fn init_tracing(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn,hyper=warn")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cli.json {
        builder.json().init();
    } else {
        builder.init();
    }
}
