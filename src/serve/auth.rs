//! Who may talk to the service: the bearer token of `--token-file` (S14), compared in
//! constant time, and, without a token, loopback only (S13, S15).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;

/// Shortest token accepted, in bytes.
pub const MIN_TOKEN_BYTES: usize = 16;

/// A start-up failure and its exit code.
pub type Refusal = (u8, String);

/// The token: the file's first line without surrounding whitespace, at least
/// [`MIN_TOKEN_BYTES`] bytes (65 otherwise); an unreadable file is 66.
pub fn read_token(path: &Path) -> Result<Vec<u8>, Refusal> {
    let file = path.display();
    let bytes =
        std::fs::read(path).map_err(|e| (66, format!("cannot read token file {file}: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let token = text.lines().next().unwrap_or("").trim();
    if token.len() < MIN_TOKEN_BYTES {
        return Err((
            65,
            format!(
                "{file}: line 1: the token must be at least {MIN_TOKEN_BYTES} bytes (got {} bytes)",
                token.len()
            ),
        ));
    }
    Ok(token.as_bytes().to_vec())
}

/// Whether `authorization` is `Bearer <token>`, compared in constant time (the time depends
/// on the lengths only).
pub fn bearer_matches(expected: &[u8], authorization: Option<&[u8]>) -> bool {
    // RFC 9110 §11.1: the scheme is case-insensitive (`bearer`, `BEARER`); then one or more
    // spaces, then the token (RFC 6750 §2.1).
    let Some(header) = authorization else {
        return false;
    };
    let Some((scheme, rest)) = header.split_at_checked(6) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"Bearer") || !rest.starts_with(b" ") {
        return false;
    }
    let given = rest.trim_ascii_start();
    constant_time_eq(expected, given)
}

/// Equality without an early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// 127.0.0.0/8 and ::1 (S15).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The addresses of `--listen`: a socket address, or `host:port` resolved (`localhost`);
/// usage-like mistakes are 65 naming the value.
pub fn resolve_listen(text: &str) -> Result<Vec<SocketAddr>, Refusal> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let bad = |why: String| (65, format!("command line: --listen: {why} (got {text})"));
    if !text.contains(':') {
        return Err(bad("expected HOST:PORT, e.g. 127.0.0.1:8787".into()));
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| bad(format!("cannot resolve: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(bad("resolves to no address".into()));
    }
    Ok(addrs)
}

/// Whether a `Host` header names the loopback: a loopback literal (`127.0.0.1:8787`,
/// `[::1]:8787`) or `localhost[:port]`.
pub fn host_is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) if tail.is_empty() || is_port(tail) => ip,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(&format!(":{port}")) => name,
            Some(_) => return false,
            None => host,
        }
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(is_loopback)
}

fn is_port(tail: &str) -> bool {
    tail.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8787",
            "127.5.6.7:1",
            "[::1]:80",
            "[::1]",
            "localhost",
            "LOCALHOST:9",
        ] {
            assert!(host_is_loopback(ok), "{ok}");
        }
        for bad in [
            "example.com",
            "10.0.0.1:80",
            "0.0.0.0:1",
            "[::]:80",
            "localhost.evil.com",
            "127.0.0.1:x",
            "localhost:",
            "",
        ] {
            assert!(!host_is_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn tokens() {
        let t = b"0123456789abcdef";
        assert!(bearer_matches(t, Some(b"Bearer 0123456789abcdef")));
        assert!(!bearer_matches(t, Some(b"Bearer 0123456789abcdeg")));
        assert!(!bearer_matches(t, Some(b"Bearer 0123456789abcde")));
        // The scheme is case-insensitive; spaces before the token are one separator.
        assert!(bearer_matches(t, Some(b"bearer 0123456789abcdef")));
        assert!(bearer_matches(t, Some(b"BEARER   0123456789abcdef")));
        assert!(!bearer_matches(t, Some(b"Bearer0123456789abcdef")));
        assert!(!bearer_matches(t, Some(b"Basic 0123456789abcdef")));
        assert!(!bearer_matches(t, Some(b"Beare")));
        assert!(!bearer_matches(t, None));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
    }
}
