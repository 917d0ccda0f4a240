//! The `http` check: one request (never following redirects), the status,
//! the body (first MiB) and the latency as evidence. The URL is shown without
//! credentials or query string, which may carry secrets.

use std::path::Path;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{snippet, Attempt, Probe};
use crate::config::checks::{parse_duration, shown_url};
use crate::config::{HttpCheck, HttpMethod};

/// At most this much of a body is read.
const BODY_LIMIT: usize = 1 << 20;

pub struct HttpProbe {
    spec: HttpCheck,
    body_regex: Option<regex::Regex>,
    warn_latency: Option<Duration>,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpProbe {
    /// Builds the client: the check's `ca_file` alone is trusted when given.
    pub fn new(spec: &HttpCheck, base_dir: &Path) -> Result<HttpProbe, String> {
        let body_regex = spec
            .body_regex
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| format!("body_regex: {e}"))?;
        let warn_latency = spec
            .warn_latency
            .as_deref()
            .map(parse_duration)
            .transpose()?;
        // The system roots are loaded only for https URLs: a plain-http
        // check must not fail on a host without a CA bundle.
        let tls = if spec.url.starts_with("https:") || spec.ca_file.is_some() {
            super::roots::client_config(spec.ca_file.as_deref(), base_dir)?
        } else {
            super::roots::client_config_without_roots()
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HttpProbe {
            spec: spec.clone(),
            body_regex,
            warn_latency,
            client,
        })
    }

    fn request(&self) -> Result<http::Request<Full<Bytes>>, String> {
        let method = match self.spec.method {
            HttpMethod::Get => http::Method::GET,
            HttpMethod::Head => http::Method::HEAD,
            HttpMethod::Post => http::Method::POST,
            HttpMethod::Put => http::Method::PUT,
            HttpMethod::Patch => http::Method::PATCH,
            HttpMethod::Delete => http::Method::DELETE,
            HttpMethod::Options => http::Method::OPTIONS,
        };
        let body = self.spec.body.clone().unwrap_or_default();
        http::Request::builder()
            .method(method)
            .uri(self.spec.url.as_str())
            .header(http::header::USER_AGENT, "phasegate-verify")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("bad request: {e}"))
    }

    /// Judges one response.
    fn judge(&self, status: u16, body: &[u8], latency: Duration) -> Attempt {
        let shown = format!(
            "{} {} → {status} in {} ms",
            method_word(self.spec.method),
            shown_url(&self.spec.url),
            latency.as_millis()
        );
        let status_ok = match self.spec.expect_status {
            Some(want) => status == want,
            None => (200..300).contains(&status),
        };
        if !status_ok {
            let want = self
                .spec
                .expect_status
                .map_or("a 2xx status".to_string(), |s| s.to_string());
            return Attempt::fail(format!(
                "{shown}; expected {want}; body: \"{}\"",
                snippet(&String::from_utf8_lossy(body), 120)
            ));
        }
        let text = String::from_utf8_lossy(body);
        let mut seen = vec![shown];
        if let Some(want) = &self.spec.body_contains {
            if !text.contains(want.as_str()) {
                return Attempt::fail(format!(
                    "{}; body does not contain \"{}\": \"{}\"",
                    seen[0],
                    snippet(want, 80),
                    snippet(&text, 120)
                ));
            }
            seen.push(format!("body contains \"{}\"", snippet(want, 80)));
        }
        if let Some(re) = &self.body_regex {
            match re.find(&text) {
                Some(m) => seen.push(format!(
                    "body matches /{}/ at \"{}\"",
                    re.as_str(),
                    snippet(m.as_str(), 80)
                )),
                None => {
                    return Attempt::fail(format!(
                        "{}; body does not match /{}/: \"{}\"",
                        seen[0],
                        re.as_str(),
                        snippet(&text, 120)
                    ))
                }
            }
        }
        seen.push(format!("{} bytes", body.len()));
        match self.warn_latency {
            Some(limit) if latency > limit => Attempt::warn(format!(
                "{}; slower than warn_latency {} ms",
                seen.join("; "),
                limit.as_millis()
            )),
            _ => Attempt::pass(seen.join("; ")),
        }
    }
}

impl Probe for HttpProbe {
    async fn attempt(&self, timeout: Duration) -> Attempt {
        let req = match self.request() {
            Ok(r) => r,
            Err(e) => return Attempt::fail(e),
        };
        let started = Instant::now();
        let exchange = async {
            let resp = self.client.request(req).await.map_err(error_chain)?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| format!("reading the body: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Attempt::fail(format!(
                "{} {}: no answer within {} ms",
                method_word(self.spec.method),
                shown_url(&self.spec.url),
                timeout.as_millis()
            )),
            Ok(Err(e)) => Attempt::fail(format!(
                "{} {}: {e}",
                method_word(self.spec.method),
                shown_url(&self.spec.url)
            )),
            Ok(Ok((status, body))) => self.judge(status, &body, started.elapsed()),
        }
    }
}

fn method_word(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Options => "OPTIONS",
    }
}

/// The error and its causes: hyper's top-level message alone ("client
/// error (Connect)") says too little.
fn error_chain(e: impl std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_url_drops_credentials_and_query() {
        assert_eq!(
            shown_url("https://user:s3cret@example.com:8443/health?token=abc"),
            "https://example.com:8443/health?…"
        );
        assert_eq!(shown_url("http://10.0.0.1/"), "http://10.0.0.1/");
    }
}
