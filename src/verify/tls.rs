//! The `tls` check: a handshake that verifies the chain against the trusted
//! CAs and the server name, then the peer certificate read for its expiry
//! and names. Evidence: protocol, names, issuer, expiry and days left.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::extensions::GeneralName;

use super::{Attempt, Probe};
use crate::config::checks::split_host_port;
use crate::config::TlsCheck;

/// Fewer days left than this fails when the check sets no `min_days_valid`.
pub const DEFAULT_MIN_DAYS_VALID: u32 = 14;

pub struct TlsProbe {
    host: String,
    port: u16,
    server_name: String,
    min_days: u32,
    warn_days: Option<u32>,
    expect_names: Vec<String>,
    connector: TlsConnector,
}

/// What the peer certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub names: Vec<String>,
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub not_after: i64,
}

impl TlsProbe {
    pub fn new(spec: &TlsCheck, base_dir: &Path) -> Result<TlsProbe, String> {
        let (host, port) =
            split_host_port(&spec.host, 443).ok_or_else(|| format!("bad host `{}`", spec.host))?;
        let config = super::roots::client_config(spec.ca_file.as_deref(), base_dir)?;
        Ok(TlsProbe {
            server_name: spec.server_name.clone().unwrap_or_else(|| host.clone()),
            host,
            port,
            min_days: spec.min_days_valid.unwrap_or(DEFAULT_MIN_DAYS_VALID),
            warn_days: spec.warn_days_valid,
            expect_names: spec.expect_names.clone(),
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    async fn handshake(&self) -> Result<(String, CertFacts), String> {
        let name = ServerName::try_from(self.server_name.clone())
            .map_err(|e| format!("server name `{}`: {e}", self.server_name))?;
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let (_, conn) = tls.get_ref();
        let protocol = conn
            .protocol_version()
            .and_then(|v| v.as_str())
            .unwrap_or("TLS")
            .to_string();
        let leaf = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or("the server sent no certificate")?;
        Ok((protocol, cert_facts(leaf.as_ref())?))
    }

    /// Judges a verified certificate at `now` (seconds since the epoch).
    pub fn judge(&self, protocol: &str, facts: &CertFacts, now: i64) -> Attempt {
        let days_left = (facts.not_after - now).div_euclid(86_400);
        let expires = chrono::DateTime::from_timestamp(facts.not_after, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| facts.not_after.to_string());
        let seen = format!(
            "{}:{} {protocol}, chain trusted; certificate for {} issued by {}; expires {expires} ({days_left} days left)",
            self.host,
            self.port,
            facts.names.join(", "),
            facts.issuer
        );
        let missing: Vec<&str> = self
            .expect_names
            .iter()
            .filter(|want| !facts.names.iter().any(|have| covers(have, want)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Attempt::fail(format!("{seen}; does not cover {}", missing.join(", ")));
        }
        if days_left < i64::from(self.min_days) {
            return Attempt::fail(format!(
                "{seen}; fewer than min_days_valid {} days",
                self.min_days
            ));
        }
        match self.warn_days {
            Some(w) if days_left < i64::from(w) => {
                Attempt::warn(format!("{seen}; fewer than warn_days_valid {w} days"))
            }
            _ => Attempt::pass(seen),
        }
    }
}

impl Probe for TlsProbe {
    async fn attempt(&self, timeout: Duration) -> Attempt {
        match tokio::time::timeout(timeout, self.handshake()).await {
            Err(_) => Attempt::fail(format!(
                "{}:{}: no handshake within {} ms",
                self.host,
                self.port,
                timeout.as_millis()
            )),
            Ok(Err(e)) => Attempt::fail(format!("{}:{} {e}", self.host, self.port)),
            Ok(Ok((protocol, facts))) => {
                self.judge(&protocol, &facts, chrono::Utc::now().timestamp())
            }
        }
    }
}

/// Names (DNS and IP subject alternative names, else the subject CN),
/// issuer and expiry of a DER certificate.
pub fn cert_facts(der: &[u8]) -> Result<CertFacts, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("unreadable certificate: {e}"))?;
    let mut names = vec![];
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(d.to_string()),
                GeneralName::IPAddress(ip) => names.push(ip_text(ip)),
                _ => {}
            }
        }
    }
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok().map(str::to_string)),
        );
    }
    Ok(CertFacts {
        names,
        issuer: cert.issuer().to_string(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => hex::encode(bytes),
    }
}

/// Whether a certificate name covers `want`: equal ignoring case, or a
/// `*.` wildcard standing for exactly one leftmost label.
pub fn covers(have: &str, want: &str) -> bool {
    let (have, want) = (have.to_ascii_lowercase(), want.to_ascii_lowercase());
    if have == want {
        return true;
    }
    match (have.strip_prefix("*."), want.split_once('.')) {
        (Some(suffix), Some((label, rest))) => !label.is_empty() && rest == suffix,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(covers("*.example.com", "www.example.com"));
        assert!(covers("WWW.example.com", "www.EXAMPLE.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "example.com"));
    }
}
