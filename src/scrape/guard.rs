//! Which addresses a scraped link may make briefbot fetch.
//!
//! A list page or feed names the pages briefbot fetches next, and a server names where a
//! redirect goes: text from outside decides where requests go. Without a check, one entry
//! pointing at `http://169.254.169.254/…` (a cloud's metadata service), `http://127.0.0.1:…`
//! or a host on the operator's own network would have the bot fetch it and post what it found.
//! So every request and every redirect hop may reach only public addresses, checked on the
//! address actually connected to (the check runs in the resolver, so a name cannot resolve to a
//! public address for the check and a private one for the connection).
//!
//! A source may reach private addresses when the operator says so (`allow_private = true`) or
//! when its own list URL is on one (an operator testing against a local copy of a site).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// What kind of address `ip` is, when it is not a public one.
pub fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

/// Whether `ip` is an ordinary address on the public internet (IANA's special-purpose
/// registries, RFC 6890 and its updates, name every range that is not).
pub fn is_public(ip: IpAddr) -> bool {
    non_public_kind(ip).is_none()
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "'this network' (0.0.0.0/8)",
        (10, ..) => "private (10.0.0.0/8)",
        (100, 64..=127, _) => "shared carrier-grade NAT (100.64.0.0/10)",
        (127, ..) => "loopback (127.0.0.0/8)",
        (169, 254, _) => "link-local (169.254.0.0/16)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 0, 0) => "IETF protocol (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay anycast (192.88.99.0/24)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, ..) => "multicast (224.0.0.0/4)",
        (240..=255, ..) => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // Addresses that carry an IPv4 address are what that address is.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified (::)",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback (::1)",
        // IPv4-compatible (deprecated) and NAT64 addresses reach the IPv4 address they carry.
        [0, 0, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return v4_kind(embedded(hi, lo));
        }
        [0x64, 0xff9b, 1, ..] => "local-use NAT64 (64:ff9b:1::/48)",
        [0x100, 0, 0, 0, ..] => "discard-only (100::/64)",
        // 6to4 reaches the IPv4 address in its second and third segments.
        [0x2002, hi, lo, ..] => return v4_kind(embedded(hi, lo)),
        [0x2001, 0xdb8, ..] | [0x3fff, 0..=0x0fff, ..] => "documentation",
        [0x2001, 0..=0x01ff, ..] => "IETF protocol (2001::/23)",
        [first, ..] if first & 0xfe00 == 0xfc00 => "unique-local (fc00::/7)",
        [first, ..] if first & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        [first, ..] if first & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        [first, ..] if first & 0xff00 == 0xff00 => "multicast (ff00::/8)",
        _ => return None,
    })
}

/// Why a request was not sent. It travels inside reqwest's error as its source.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The rules one client applies to the addresses it would connect to.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Private addresses may be reached too.
    pub allow_private: bool,
    /// Addresses counted as public although they are not: only for tests, which cannot send
    /// traffic to real public addresses (and must not try private ones).
    pub(crate) also_public: Vec<IpAddr>,
    /// Names answered without asking DNS: only for tests.
    pub(crate) hosts: HashMap<String, Vec<IpAddr>>,
    /// Requests go through a proxy (`HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY`): the proxy
    /// resolves the target's name, so the resolver never sees it and [`Rules::check_proxied`]
    /// must run before each request.
    pub(crate) proxied: bool,
    /// The proxies' own names, which the operator chose: reached wherever they resolve (a
    /// proxy is usually on the operator's own network).
    pub(crate) proxies: Vec<String>,
}

impl Rules {
    /// `None` when `ip` may be reached; otherwise the kind of address it is.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow_private || self.also_public.contains(&ip) {
            return None;
        }
        non_public_kind(ip)
    }

    /// Checks a URL whose host is an address (those are connected to without the resolver):
    /// `Err` with the reason when it may not be fetched. Names are checked when resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused(format!(
                "{url}: only http and https URLs are fetched"
            )));
        }
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(Refused(format!("{url}: no host"))),
        };
        match self.refusal(ip) {
            None => Ok(()),
            Some(kind) => Err(Refused(format!(
                "{ip} is a {kind} address; only public addresses are fetched"
            ))),
        }
    }

    /// Whether `url`'s host is a private address, or a name all of whose addresses are private
    /// (`localhost`, a name in the operator's own network): a source whose list is there is run
    /// by an operator who means it, and may reach private addresses.
    pub async fn is_private_host(&self, url: &Url) -> bool {
        let strict = |ip: &IpAddr| non_public_kind(*ip).is_some() && !self.also_public.contains(ip);
        let ips: Vec<IpAddr> = match url.host() {
            Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
            Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
            Some(Host::Domain(name)) => match self.hosts.get(name) {
                Some(ips) => ips.clone(),
                None => match tokio::net::lookup_host((name, 0)).await {
                    Ok(addrs) => addrs.map(|a| a.ip()).collect(),
                    Err(_) => Vec::new(),
                },
            },
            None => Vec::new(),
        };
        !ips.is_empty() && ips.iter().all(strict)
    }

    /// The addresses of `host` that may be reached, or why none may.
    pub async fn resolve(
        &self,
        host: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let found = self.lookup(host).await?;
        if self.proxies.iter().any(|p| p.eq_ignore_ascii_case(host)) {
            return Ok(found);
        }
        self.filter(host, found)
    }

    async fn lookup(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        Ok(match self.hosts.get(host) {
            Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
            None => tokio::net::lookup_host((host, 0)).await?.collect(),
        })
    }

    /// Checks a URL a proxy will fetch: its host name is resolved here, and refused when any
    /// of its addresses may not be reached (the proxy, not briefbot, picks which one to dial).
    /// A name that does not resolve here is left to the proxy: behind a proxy, the local DNS
    /// often knows only the local network, whose names it would resolve.
    pub async fn check_proxied(&self, url: &Url) -> Result<(), Refused> {
        let Some(Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        let Ok(found) = self.lookup(name).await else {
            return Ok(());
        };
        match found
            .iter()
            .find_map(|a| Some((a.ip(), self.refusal(a.ip())?)))
        {
            None => Ok(()),
            Some((ip, kind)) => Err(Refused(format!(
                "{name} resolves to {ip}, a {kind} address; only public addresses are fetched"
            ))),
        }
    }

    /// Keeps the addresses that may be reached; with none left, says why.
    pub fn filter(
        &self,
        host: &str,
        found: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let mut refused = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|addr| match self.refusal(addr.ip()) {
                None => true,
                Some(kind) => {
                    refused.get_or_insert((addr.ip(), kind));
                    false
                }
            })
            .collect();
        if !allowed.is_empty() {
            return Ok(allowed);
        }
        Err(match refused {
            Some((ip, kind)) => Box::new(Refused(format!(
                "{host} resolves to {ip}, a {kind} address; only public addresses are fetched"
            ))),
            None => format!("{host}: no address found").into(),
        })
    }
}

/// reqwest's resolver for a client under `rules`.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver(pub Arc<Rules>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.0.clone();
        Box::pin(async move {
            let addrs = rules.resolve(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_special_range_is_not_public() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "2002:a9fe:a9fe::1",
            "2002:7f00:1::",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip(s)), "{s} counted as public");
        }
    }

    #[test]
    fn ordinary_addresses_are_public() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.0.1",
            "198.20.0.1",
            "211.43.210.26",
            "223.255.255.255",
            "2404:6800:4004:80a::200e",
            "2606:4700::6810:1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip(s)), "{s} refused");
        }
    }

    #[test]
    fn urls_on_addresses_are_checked_and_names_are_left_to_the_resolver() {
        let strict = Rules::default();
        let refused = |u: &str| strict.check_url(&Url::parse(u).unwrap()).unwrap_err().0;
        assert_eq!(
            refused("http://169.254.169.254/latest/meta-data/"),
            "169.254.169.254 is a link-local (169.254.0.0/16) address; only public addresses are fetched"
        );
        assert!(refused("http://127.0.0.1:8080/").contains("loopback"));
        assert!(refused("http://[::1]/").contains("loopback"));
        assert!(refused("http://[::ffff:a9fe:a9fe]/").contains("link-local"));
        assert!(
            refused("http://0x7f.1/").contains("loopback"),
            "url parses hex forms to 127.0.0.1"
        );
        assert!(
            refused("http://2130706433/").contains("loopback"),
            "and decimal ones"
        );
        assert!(refused("file:///etc/passwd").contains("only http and https"));
        assert!(
            strict
                .check_url(&Url::parse("https://8.8.8.8/").unwrap())
                .is_ok()
        );
        assert!(
            strict
                .check_url(&Url::parse("http://internal.corp/").unwrap())
                .is_ok()
        );

        let open = Rules {
            allow_private: true,
            ..Rules::default()
        };
        assert!(
            open.check_url(&Url::parse("http://10.0.0.1/").unwrap())
                .is_ok()
        );
    }

    #[test]
    fn resolved_addresses_are_filtered_and_a_name_with_only_private_ones_is_refused() {
        let strict = Rules::default();
        let addrs = |list: &[&str]| -> Vec<SocketAddr> {
            list.iter().map(|s| SocketAddr::new(ip(s), 0)).collect()
        };
        let kept = strict
            .filter(
                "mixed.example",
                addrs(&["10.0.0.5", "93.184.216.34", "fd00::1"]),
            )
            .unwrap();
        assert_eq!(
            kept,
            addrs(&["93.184.216.34"]),
            "only the public address is dialled"
        );

        let err = strict
            .filter("metadata.example", addrs(&["169.254.169.254"]))
            .unwrap_err();
        let refused = err.downcast_ref::<Refused>().expect("a Refused error");
        assert_eq!(
            refused.0,
            "metadata.example resolves to 169.254.169.254, a link-local (169.254.0.0/16) address; only public addresses are fetched"
        );
        let none = strict.filter("gone.example", Vec::new()).unwrap_err();
        assert!(
            none.downcast_ref::<Refused>().is_none(),
            "no address is not a refusal"
        );

        let open = Rules {
            allow_private: true,
            ..Rules::default()
        };
        assert_eq!(
            open.filter("lan.example", addrs(&["192.168.0.10"]))
                .unwrap(),
            addrs(&["192.168.0.10"])
        );
    }
}
