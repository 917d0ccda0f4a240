//! The `tls` check: a handshake that verifies the chain against the trusted
//! CAs and the server name, then the peer certificate read for its expiry
//! and names. Evidence: protocol, names, issuer, expiry and days left.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::extensions::GeneralName;

use super::{Attempt, Probe};
use crate::config::checks::split_host_port;
use crate::config::TlsCheck;

/// Fewer days left than this fails when the check sets no `min_days_valid`.
pub const DEFAULT_MIN_DAYS_VALID: u32 = 14;
/// Fewer days left than this warns when the check sets no `warn_days_valid`
/// (or `min_days_valid` + [`DEFAULT_WARN_MARGIN_DAYS`], when that is more):
/// a certificate nearing its end is reported before it is an outage.
pub const DEFAULT_WARN_DAYS_VALID: u32 = 30;
/// The warning window kept ahead of a raised `min_days_valid`.
pub const DEFAULT_WARN_MARGIN_DAYS: u32 = 14;

/// The days of validity below which the check warns.
pub fn warn_days(spec: &TlsCheck) -> u32 {
    let min = spec.min_days_valid.unwrap_or(DEFAULT_MIN_DAYS_VALID);
    spec.warn_days_valid.unwrap_or_else(|| {
        DEFAULT_WARN_DAYS_VALID.max(min.saturating_add(DEFAULT_WARN_MARGIN_DAYS))
    })
}

pub struct TlsProbe {
    host: String,
    port: u16,
    server_name: String,
    min_days: u32,
    warn_days: u32,
    expect_names: Vec<String>,
    connector: TlsConnector,
    verifier: Arc<Recording>,
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
        let roots = super::roots::root_store(spec.ca_file.as_deref(), base_dir)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(Recording {
            inner: WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| e.to_string())?,
            leaf: Mutex::new(None),
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        Ok(TlsProbe {
            server_name: spec.server_name.clone().unwrap_or_else(|| host.clone()),
            host,
            port,
            min_days: spec.min_days_valid.unwrap_or(DEFAULT_MIN_DAYS_VALID),
            warn_days: warn_days(spec),
            expect_names: spec.expect_names.clone(),
            connector: TlsConnector::from(Arc::new(config)),
            verifier,
        })
    }

    async fn handshake(&self) -> Result<(String, CertFacts), String> {
        let name = ServerName::try_from(self.server_name.clone())
            .map_err(|e| format!("server name `{}`: {e}", self.server_name))?;
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        self.verifier.take();
        let tls = self.connector.connect(name, tcp).await.map_err(|e| {
            // A refused certificate is still evidence: say what it was.
            match self.verifier.take().map(|der| cert_facts(&der)) {
                Some(Ok(f)) => format!(
                    "handshake: {e}; the server presented a certificate for {} issued by {}, valid until {}",
                    f.names.join(", "),
                    f.issuer,
                    date(f.not_after)
                ),
                _ => format!("handshake: {e}"),
            }
        })?;
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
        let expires = date(facts.not_after);
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
        if days_left < i64::from(self.warn_days) {
            return Attempt::warn(format!(
                "{seen}; fewer than warn_days_valid {} days",
                self.warn_days
            ));
        }
        Attempt::pass(seen)
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

/// Seconds since the epoch as evidence shows them.
fn date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// The standard WebPKI verification, keeping the leaf certificate it was
/// shown: when the chain is refused (expired, untrusted, another name) the
/// evidence still says what the server presented.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    leaf: Mutex<Option<Vec<u8>>>,
}

impl Recording {
    fn take(&self) -> Option<Vec<u8>> {
        self.leaf.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.leaf.lock().unwrap_or_else(|e| e.into_inner()) = Some(end_entity.to_vec());
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
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
    use super::{covers, warn_days};
    use crate::config::TlsCheck;

    fn spec(min: Option<u32>, warn: Option<u32>) -> TlsCheck {
        let mut c: TlsCheck =
            serde_json::from_value(serde_json::json!({"host": "example.com"})).unwrap();
        c.min_days_valid = min;
        c.warn_days_valid = warn;
        c
    }

    #[test]
    fn a_certificate_warns_before_it_fails_unless_told_otherwise() {
        assert_eq!(warn_days(&spec(None, None)), 30);
        // A raised minimum keeps two weeks of warning ahead of it.
        assert_eq!(warn_days(&spec(Some(40), None)), 54);
        assert_eq!(warn_days(&spec(Some(7), Some(10))), 10);
    }

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(covers("*.example.com", "www.example.com"));
        assert!(covers("WWW.example.com", "www.EXAMPLE.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(!covers("*.example.com", "example.com"));
    }
}
