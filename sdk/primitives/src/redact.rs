//! Text that may be shown anywhere: URLs inside it keep their scheme and host, never their
//! user-info, path or query, where RPC providers put API keys (`https://host/v3/<key>`,
//! `wss://user:pass@host`). Health output and errors pass through [`urls`].

/// Characters that end a URL inside running text.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, ')' | '(' | '"' | '\'' | '`' | '<' | '>' | ',' | ';' | ']')
}

/// `text` with every `scheme://…` URL cut to `scheme://host[:port]`, followed by `/…` when
/// something was cut after the host.
pub fn urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // the scheme: the letters (and + - .) right before "://"
        let before = &rest[..at];
        let scheme_len = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .count();
        out.push_str(&before[..before.len() - scheme_len]);
        out.push_str(&before[before.len() - scheme_len..]);
        out.push_str("://");
        let after = &rest[at + 3..];
        let end = after.find(ends_url).unwrap_or(after.len());
        let url = &after[..end];
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..authority_end];
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        out.push_str(host);
        if authority_end < url.len() || host.len() < authority.len() {
            out.push_str("/…");
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::urls;

    #[test]
    fn keys_in_urls_never_show() {
        let e = "error sending request for url (https://mainnet.example.io/v3/0123456789abcdef)";
        assert_eq!(urls(e), "error sending request for url (https://mainnet.example.io/…)");
        assert_eq!(
            urls("wss://user:secret@node.example:8546 refused"),
            "wss://node.example:8546/… refused"
        );
        assert_eq!(urls("http://127.0.0.1:8545/"), "http://127.0.0.1:8545/…");
        assert_eq!(urls("https://h.example?apikey=k"), "https://h.example/…");
        assert_eq!(urls("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(urls("no url here: a:// b"), "no url here: a:// b");
        assert_eq!(urls("two: http://a/x and http://b/y."), "two: http://a/… and http://b/…");
        for secret in ["0123456789abcdef", "secret", "apikey=k"] {
            assert!(!urls(&format!("x https://u:{secret}@h/{secret}?{secret}")).contains(secret));
        }
    }
}
