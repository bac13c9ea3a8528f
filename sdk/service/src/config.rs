//! Configuration from flags, then `MODELMART_*` environment variables, then the TOML file named
//! by `--config`, then defaults.

use std::path::PathBuf;

use clap::{ArgMatches, Command, FromArgMatches, Parser, parser::ValueSource};

use crate::{Error, Result};

/// Parse the process's arguments as `T`, filling every setting that neither a flag nor the
/// environment set from the TOML file given by `--config` (keys are the flags' names, with `_`
/// or `-`; lists are arrays). The command (or the deepest subcommand) that has a `config`
/// argument reads the file.
pub fn parse_with_config<T: Parser>() -> Result<T> {
    parse_from_with_config(std::env::args().collect())
}

/// [`parse_with_config`] for a binary's `main`: a usage error prints clap's message and exits
/// with its code (2; 0 for `--help` and `--version`), a config file error prints it and exits 2.
pub fn parse_or_exit<T: Parser>() -> T {
    parse_with_config().unwrap_or_else(exit)
}

/// [`parse_with_config`] over `argv` (the first item is the program name).
pub fn parse_from_with_config<T: Parser>(argv: Vec<String>) -> Result<T> {
    parse_command_with_config(T::command(), argv)
}

/// [`parse_with_config`] with the command line `command` (a [`Parser`]'s, renamed or
/// re-described) over `argv`.
pub fn parse_command_with_config<T: FromArgMatches>(
    command: Command,
    mut argv: Vec<String>,
) -> Result<T> {
    let parse = |command: Command, argv: Vec<String>| -> Result<T> {
        let mut matches = command.try_get_matches_from(argv)?;
        Ok(T::from_arg_matches_mut(&mut matches)?)
    };
    // the first pass tolerates a missing required flag: the file may provide it
    let first = command.clone().ignore_errors(true).try_get_matches_from(&argv)?;
    let Some((cmd, matches, path)) = with_config(command.clone(), first) else {
        return parse(command, argv);
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|source| Error::ConfigRead { path: shown.clone(), source })?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| Error::ConfigInvalid { path: shown.clone(), detail: e.to_string() })?;
    for (key, value) in table {
        // a key names an argument by its id (`cors_origins`) or its flag (`cors-origin`)
        let (id, flag) = (key.replace('-', "_"), key.replace('_', "-"));
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == id.as_str() || a.get_long() == Some(flag.as_str()))
            .filter(|a| a.get_long().is_some())
            .ok_or_else(|| Error::ConfigInvalid {
                path: shown.clone(),
                detail: format!("unknown setting `{key}`"),
            })?;
        let long = arg.get_long().unwrap_or_default().to_owned();
        let id = arg.get_id().as_str().to_owned();
        if !matches!(matches.value_source(&id), Some(ValueSource::DefaultValue) | None) {
            continue; // a flag or the environment set it
        }
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
    parse(command, argv)
}

/// The deepest (sub)command whose matches carry a `--config` path, with them.
fn with_config(cmd: Command, matches: ArgMatches) -> Option<(Command, ArgMatches, PathBuf)> {
    if let Ok(Some(path)) = matches.try_get_one::<PathBuf>("config") {
        let path = path.clone();
        return Some((cmd, matches, path));
    }
    let (name, sub) = matches.subcommand()?;
    let sub_cmd = cmd.find_subcommand(name)?.clone();
    with_config(sub_cmd, sub.clone())
}

/// Exit on a command-line error: clap's message and code (0 for `--help`), or the config file's
/// error and 2.
#[allow(clippy::print_stderr)]
pub(crate) fn exit<T>(e: Error) -> T {
    match e {
        Error::Args(e) => e.exit(),
        e => {
            eprintln!("error: {e}");
            std::process::exit(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Service {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        contract: String,
        #[arg(long, default_value_t = 250)]
        poll_ms: u64,
        #[arg(long = "cors-origin", value_delimiter = ',')]
        cors_origins: Vec<String>,
    }

    #[derive(Debug, Parser)]
    enum Cli {
        Run(Service),
    }

    fn file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let shown = path.display().to_string();
        (dir, shown)
    }

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_file_fills_what_flags_leave_unset() {
        let (_d, path) = file("contract = \"0xab\"\npoll-ms = 900\ncors_origin = [\"a\", \"b\"]\n");
        let s: Service = parse_from_with_config(argv(&["x", "--config", &path]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.contract.as_str(), s.poll_ms), ("0xab", 900));
        assert_eq!(s.cors_origins, ["a", "b"]);
        let s: Service = parse_from_with_config(argv(&["x", "--config", &path, "--poll-ms", "10"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.poll_ms, 10, "a flag wins over the file");
        // a subcommand reads its own --config
        let Cli::Run(s) = parse_from_with_config(argv(&["x", "run", "--config", &path]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.poll_ms, 900);
    }

    #[test]
    fn unknown_settings_and_bad_files_are_refused_in_words() {
        let (_d, path) = file("contract = \"0xab\"\npol_ms = 1\n");
        let err = parse_from_with_config::<Service>(argv(&["x", "--config", &path]));
        assert!(
            matches!(&err, Err(Error::ConfigInvalid { detail, .. }) if detail.contains("pol_ms"))
        );
        let (_d, path) = file("contract = ");
        assert!(matches!(
            parse_from_with_config::<Service>(argv(&["x", "--config", &path])),
            Err(Error::ConfigInvalid { .. })
        ));
        assert!(matches!(
            parse_from_with_config::<Service>(argv(&["x", "--config", "/nonexistent.toml"])),
            Err(Error::ConfigRead { .. })
        ));
        assert!(matches!(parse_from_with_config::<Service>(argv(&["x"])), Err(Error::Args(_))));
    }
}
