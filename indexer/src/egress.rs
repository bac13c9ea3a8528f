//! Where the indexer's own HTTP requests may go. Operator endpoints are chain-supplied strings:
//! fetched blindly they would make the indexer a request forger against the networks it can
//! reach (loopback admin ports, cloud metadata at 169.254.169.254, private services). Probes go
//! only to public unicast addresses — checked on the URL, again on every DNS answer at connect
//! time — and never follow redirects.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

/// Which destinations the probe may contact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Also allow loopback addresses (a local development stack, where operators listen on
    /// 127.0.0.1). Private, link-local, multicast and unspecified addresses stay refused.
    pub allow_loopback: bool,
}

fn forbidden_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let [a, b, ..] = ip.octets();
    (ip.is_loopback() && !allow_loopback)
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4, allow_loopback);
    }
    let first = ip.segments()[0];
    (ip.is_loopback() && !allow_loopback)
        || ip.is_multicast()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
}

impl AddressPolicy {
    /// Whether a connection to `ip` is refused.
    pub fn forbids(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => forbidden_v4(v4, self.allow_loopback),
            IpAddr::V6(v6) => forbidden_v6(v6, self.allow_loopback),
        }
    }

    /// Check `url` before any connection: `http`/`https` only, and every address its host
    /// resolves to allowed.
    pub async fn check_url(&self, url: &str) -> Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("refused: scheme {} (http or https only)", parsed.scheme()));
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        let Some(host) = parsed.host_str() else { return Err("refused: no host".into()) };
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
        let addrs: Vec<SocketAddr> = match literal {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect(),
        };
        match addrs.iter().find(|a| self.forbids(a.ip())) {
            Some(a) => Err(format!("refused: {} is not a public address", a.ip())),
            None if addrs.is_empty() => Err("refused: the host resolves to nothing".into()),
            None => Ok(()),
        }
    }

    /// An HTTP client for probes: the same check on every DNS answer at connect time (a name
    /// that re-resolves to a private address between check and request is still refused), no
    /// redirects, a `timeout` per request.
    pub fn client(&self, timeout: Duration) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Resolver(*self)))
            .build()
    }
}

/// DNS through the system resolver, keeping only allowed addresses.
struct Resolver(AddressPolicy);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| !policy.forbids(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_allowed() {
        let strict = AddressPolicy::default();
        let dev = AddressPolicy { allow_loopback: true };
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fc00::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "ff02::1",
        ] {
            let ip: IpAddr = bad.parse().unwrap_or_else(|e| panic!("{bad}: {e}"));
            assert!(strict.forbids(ip), "{bad} allowed");
        }
        for good in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            let ip: IpAddr = good.parse().unwrap_or_else(|e| panic!("{good}: {e}"));
            assert!(!strict.forbids(ip), "{good} refused");
        }
        assert!(!dev.forbids("127.0.0.1".parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
        assert!(dev.forbids("10.0.0.1".parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
    }

    #[tokio::test]
    async fn urls_are_checked_before_any_connection() {
        let strict = AddressPolicy::default();
        for url in [
            "http://127.0.0.1:7070/healthz",
            "http://localhost:7070/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "gopher://example.com/",
        ] {
            assert!(strict.check_url(url).await.is_err(), "{url} allowed");
        }
        let dev = AddressPolicy { allow_loopback: true };
        assert!(dev.check_url("http://127.0.0.1:7070/healthz").await.is_ok());
        assert!(dev.check_url("http://10.0.0.1/").await.is_err());
    }
}
