//! Servers on loopback for the verification checks: HTTP (scripted per
//! request, so slow and flaky-then-ok answers are possible), TLS with a test
//! CA generated here by rcgen, and a tiny DNS server over UDP. Each runs on
//! its own thread until the test process ends; nothing leaves 127.0.0.1.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// One scripted HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

/// Decides the answer from the request path and how many requests that
/// path has had before (0 for the first).
pub type Script = dyn Fn(&str, usize) -> Reply + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1; each connection gets one answer.
pub struct HttpServer {
    pub addr: SocketAddr,
    hits: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl HttpServer {
    pub fn start(script: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> HttpServer {
        Self::start_with(script, None)
    }

    /// The same server behind TLS with `identity`.
    pub fn start_tls(
        script: impl Fn(&str, usize) -> Reply + Send + Sync + 'static,
        identity: &Identity,
    ) -> HttpServer {
        Self::start_with(script, Some(identity.server_config()))
    }

    fn start_with(
        script: impl Fn(&str, usize) -> Reply + Send + Sync + 'static,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(std::sync::Mutex::new(HashMap::new()));
        let script: Arc<Script> = Arc::new(script);
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let script = Arc::clone(&script);
                let hits = Arc::clone(&counter);
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let _ = match tls {
                        Some(cfg) => {
                            let conn = rustls::ServerConnection::new(cfg).unwrap();
                            let mut s = rustls::StreamOwned::new(conn, stream);
                            serve_one(&mut s, &*script, &hits)
                        }
                        None => {
                            let mut s = stream;
                            serve_one(&mut s, &*script, &hits)
                        }
                    };
                });
            }
        });
        HttpServer { addr, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests `path` has had.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn serve_one<S: Read + Write>(
    stream: &mut S,
    script: &Script,
    hits: &std::sync::Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *stream);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let n = {
        let mut h = hits.lock().unwrap();
        let e = h.entry(path.clone()).or_insert(0);
        *e += 1;
        *e - 1
    };
    let reply = script(&path, n);
    std::thread::sleep(reply.delay);
    let head = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n",
        reply.status,
        reply.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(reply.body.as_bytes())?;
    stream.flush()
}

/// Midnight UTC of today plus `days`, as rcgen takes it.
macro_rules! rcgen_date {
    ($days:expr) => {{
        use chrono::Datelike;
        let d = chrono::Utc::now().date_naive() + chrono::Duration::days($days);
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    }};
}

/// A test CA and a leaf certificate it signed.
pub struct Identity {
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

/// A CA generated for one test.
pub struct TestCa {
    key: KeyPair,
    cert: rcgen::Certificate,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        TestCa { key, cert }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A leaf for `names` (DNS names or IP addresses) valid from a year ago
    /// until `days` days from now (negative: already expired).
    pub fn leaf(&self, names: &[&str], days: i64) -> Identity {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        params.not_before = rcgen_date!(-365);
        params.not_after = rcgen_date!(days);
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Identity {
            ca_pem: self.pem(),
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    }
}

impl Identity {
    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(self.chain.clone(), key)
                .unwrap(),
        )
    }
}

/// A TLS server that completes handshakes and closes.
pub struct TlsServer {
    pub addr: SocketAddr,
}

impl TlsServer {
    pub fn start(identity: &Identity) -> TlsServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let cfg = identity.server_config();
        std::thread::spawn(move || {
            for mut tcp in listener.incoming().map_while(Result::ok) {
                let cfg = Arc::clone(&cfg);
                std::thread::spawn(move || {
                    let mut conn = rustls::ServerConnection::new(cfg).unwrap();
                    while conn.is_handshaking() {
                        if conn.complete_io(&mut tcp).is_err() {
                            return;
                        }
                    }
                    conn.send_close_notify();
                    let _ = conn.complete_io(&mut tcp);
                });
            }
        });
        TlsServer { addr }
    }
}

/// One DNS record the server answers with.
#[derive(Debug, Clone)]
pub enum Rr {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
}

/// A DNS server on loopback UDP: names map to records; a CNAME is
/// followed inside the zone, as a recursive resolver would; an unknown name
/// is NXDOMAIN.
pub struct DnsServer {
    pub addr: SocketAddr,
}

impl DnsServer {
    pub fn start(zone: Vec<(&str, Rr)>) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind loopback");
        let addr = socket.local_addr().unwrap();
        let zone: Vec<(String, Rr)> = zone
            .into_iter()
            .map(|(n, r)| (n.to_ascii_lowercase(), r))
            .collect();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                if let Some(answer) = answer(&buf[..n], &zone) {
                    let _ = socket.send_to(&answer, from);
                }
            }
        });
        DnsServer { addr }
    }
}

fn answer(query: &[u8], zone: &[(String, Rr)]) -> Option<Vec<u8>> {
    let mut pos = 12;
    let mut labels = vec![];
    loop {
        let len = usize::from(*query.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    let question = &query[12..pos + 4];
    let mut name = labels.join(".");
    let mut records = vec![];
    let known = zone.iter().any(|(n, _)| *n == name);
    // Follow CNAMEs (at most 8) the way a recursive resolver answers.
    for _ in 0..8 {
        let here: Vec<&Rr> = zone
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, r)| r)
            .collect();
        let cname = here.iter().find_map(|r| match r {
            Rr::Cname(t) => Some(t.clone()),
            _ => None,
        });
        match cname {
            Some(target) => {
                records.push((name.clone(), 5u16, encode_name(&target)));
                if qtype == 5 {
                    break;
                }
                name = target.to_ascii_lowercase();
            }
            None => {
                for r in here {
                    match (r, qtype) {
                        (Rr::A(ip), 1) => records.push((name.clone(), 1, ip.octets().to_vec())),
                        (Rr::Aaaa(ip), 28) => {
                            records.push((name.clone(), 28, ip.octets().to_vec()))
                        }
                        _ => {}
                    }
                }
                break;
            }
        }
    }
    let mut m = vec![query[0], query[1], 0x81, if known { 0x80 } else { 0x83 }];
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&(records.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(question);
    for (owner, rtype, data) in records {
        m.extend(encode_name(&owner));
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 30]);
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend(data);
    }
    Some(m)
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = vec![];
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}
