//! How the CLI talks: human lines or JSON on stdout, progress bars on stderr, logs on stderr.

use indicatif::{ProgressBar, ProgressStyle};

/// `s` safe for a terminal: card names, descriptions, labels, endpoints and revert reasons come
/// from sellers and the chain, so control characters (terminal escape sequences, carriage
/// returns that overwrite a line, bells) and bidirectional overrides are shown escaped
/// (`\u{1b}`); the line breaks the CLI's own layout uses stay.
pub(crate) fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return s.into();
    }
    s.chars()
        .map(|c| if unsafe_char(c) { c.escape_unicode().to_string() } else { c.to_string() })
        .collect::<String>()
        .into()
}

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
            println!("{}", printable(&human()));
        }
    }

    /// Report a failure on stderr (as JSON with `--json`).
    #[allow(clippy::print_stderr)]
    pub(crate) fn error(&self, e: &eyre::Report) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "error": format!("{e:#}") }));
        } else {
            eprintln!("error: {}", printable(&format!("{e:#}")));
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

/// Ask for a secret on the terminal without echoing it; an error when stdin is not a terminal.
pub(crate) fn prompt_secret(message: &str) -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(std::io::Error::other("stdin is not a terminal"));
    }
    eprint!("{message}");
    std::io::stderr().flush()?;
    #[cfg(unix)]
    let restore = {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let old = tcgetattr(&stdin)?;
        let mut quiet = old.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        tcsetattr(&stdin, OptionalActions::Now, &quiet)?;
        move || tcsetattr(std::io::stdin(), OptionalActions::Now, &old)
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    #[cfg(unix)]
    restore()?;
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn escape_sequences_and_overrides_are_escaped_line_breaks_kept() {
        assert_eq!(printable("model 1 — Iris\n  outputs: a, b"), "model 1 — Iris\n  outputs: a, b");
        assert_eq!(printable("\u{1b}[2J\u{1b}]0;pwned\u{7}"), "\\u{1b}[2J\\u{1b}]0;pwned\\u{7}");
        assert_eq!(printable("price 1\rprice 0"), "price 1\\u{d}price 0");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}
