//! How the CLI talks: human lines or JSON on stdout, progress bars on stderr, logs on stderr.

use indicatif::{ProgressBar, ProgressStyle};

/// Where results go.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Output {
    json: bool,
    quiet: bool,
}

impl Output {
    pub(crate) fn new(json: bool, quiet: bool) -> Self {
        Self { json, quiet }
    }

    /// Print a result: `value` as one JSON line with `--json`, else `human`.
    #[allow(clippy::print_stdout)]
    pub(crate) fn result(&self, value: serde_json::Value, human: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", human());
        }
    }

    /// Report a failure on stderr (as JSON with `--json`).
    #[allow(clippy::print_stderr)]
    pub(crate) fn error(&self, e: &eyre::Report) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "error": format!("{e:#}") }));
        } else {
            eprintln!("error: {e:#}");
        }
    }

    /// A spinner for a long step (hidden with `--json` or `-q`).
    pub(crate) fn step(&self, msg: &str) -> ProgressBar {
        if self.json || self.quiet {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::new_spinner().with_message(msg.to_owned());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    }
}
