//! The client address: the TCP peer, or, when the peer is a trusted reverse proxy, the address
//! that proxy forwarded (API.md §Auth). Rate limits, audit entries and request logs all ask here.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The reverse proxies whose `Forwarded` / `X-Forwarded-For` headers are believed
/// (`server.trusted_proxies`); cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Believes forwarding headers only from peers in `nets`.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets.into())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request: the TCP peer unless it is a trusted proxy, in
    /// which case the nearest forwarded address that is not itself a trusted proxy. Headers
    /// from any other peer are ignored, as anyone can write them. `None` only for a request
    /// that did not come through the server's accept loop.
    pub fn client_ip(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| canonical(addr.ip()))?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let chain = forwarded_chain(headers);
        // Each proxy appends the address it heard from, so the last entry not added by a
        // trusted proxy is the client; a chain of trusted proxies only ends at its first.
        let client = chain
            .iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .or_else(|| chain.first())
            .copied();
        Some(client.unwrap_or(peer))
    }
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4 they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The forwarded addresses, client first: from `Forwarded` (RFC 7239) when present, else from
/// `X-Forwarded-For`. A chain holding anything unparsable is not believed at all.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let joined = |name: &str| -> Option<String> {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined("forwarded") {
        let mut chain = Vec::new();
        for element in forwarded.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().trim_matches('"'))
            });
            match node.and_then(parse_node) {
                Some(ip) => chain.push(ip),
                None => return Vec::new(),
            }
        }
        return chain;
    }
    if let Some(xff) = joined("x-forwarded-for") {
        let chain: Option<Vec<IpAddr>> = xff.split(',').map(|s| parse_node(s.trim())).collect();
        return chain.unwrap_or_default();
    }
    Vec::new()
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:5678` or
/// `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    let inner = node.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request(peer: &str, headers: &[(&str, &str)]) -> (HeaderMap, Extensions) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo::<SocketAddr>(peer.parse().expect("peer")));
        (map, extensions)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().expect("net")).collect())
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let (h, e) = request(
            "203.0.113.9:4000",
            &[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")],
        );
        assert_eq!(proxies(&[]).client_ip(&h, &e), ip("203.0.113.9"));
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client_ip(&h, &e),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_peer_is_believed_and_trusted_hops_are_skipped() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let (h, e) = request(
            "10.0.0.1:4000",
            &[("x-forwarded-for", "9.9.9.9, 1.1.1.1, 10.0.0.7")],
        );
        assert_eq!(
            trusted.client_ip(&h, &e),
            ip("1.1.1.1"),
            "a client-written 9.9.9.9 is not believed"
        );
        let (h, e) = request(
            "10.0.0.1:4000",
            &[("forwarded", r#"for="[2001:db8::1]:80", for=10.0.0.2"#)],
        );
        assert_eq!(trusted.client_ip(&h, &e), ip("2001:db8::1"));
        let (h, e) = request("10.0.0.1:4000", &[("x-forwarded-for", "10.0.0.3")]);
        assert_eq!(trusted.client_ip(&h, &e), ip("10.0.0.3"));
    }

    #[test]
    fn a_trusted_peer_without_a_usable_header_is_the_client() {
        let trusted = proxies(&["127.0.0.1/32"]);
        for headers in [&[][..], &[("x-forwarded-for", "not-an-ip")][..]] {
            let (h, e) = request("127.0.0.1:4000", headers);
            assert_eq!(trusted.client_ip(&h, &e), ip("127.0.0.1"));
        }
        let (h, e) = request("[::ffff:127.0.0.1]:4000", &[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            trusted.client_ip(&h, &e),
            ip("1.2.3.4"),
            "mapped IPv4 peer is trusted"
        );
    }
}
