//! What the declared verification checks mean beyond their types: display
//! names, attempt policies, durations (`500ms`, `10s`, `2m`), and the
//! semantic problems validation reports (a bad URL, regex, address or
//! duration), each with the field's path so it can be located in its file.

use std::time::Duration;

use super::model::{Check, DnsRecordType};

/// How a check is attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptPolicy {
    /// Attempts in all: 1 + retries.
    pub attempts: u32,
    pub interval: Duration,
    pub timeout: Duration,
}

/// The attempt fields every network and command check shares.
struct CheckCommon<'a> {
    retries: Option<u32>,
    interval: &'a Option<String>,
    timeout: &'a Option<String>,
}

impl<'a> CheckCommon<'a> {
    fn of(
        retries: &Option<u32>,
        interval: &'a Option<String>,
        timeout: &'a Option<String>,
    ) -> Self {
        CheckCommon {
            retries: *retries,
            interval,
            timeout,
        }
    }
}

impl DnsRecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsRecordType::A => "A",
            DnsRecordType::Aaaa => "AAAA",
            DnsRecordType::Cname => "CNAME",
        }
    }
}

/// At most this many retries: a check is a probe, not a polling loop.
pub const MAX_RETRIES: u32 = 100;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

impl Check {
    /// The kind as results name it: `http`, `tls`, `dns`, `output`,
    /// `convergence` or `command`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Http(_) => "http",
            Check::Tls(_) => "tls",
            Check::Dns(_) => "dns",
            Check::Output(_) => "output",
            Check::Convergence(_) => "convergence",
            Check::Command(_) => "command",
        }
    }

    /// The name results show: the declared one, else kind and target.
    pub fn display_name(&self) -> String {
        let (declared, default) = match self {
            Check::Http(c) => (&c.name, format!("http {}", shown_url(&c.url))),
            Check::Tls(c) => (&c.name, format!("tls {}", c.host)),
            Check::Dns(c) => (
                &c.name,
                format!("dns {} {}", c.record, c.record_type.as_str()),
            ),
            Check::Output(c) => (&c.name, format!("output {}", c.output)),
            Check::Convergence(c) => (&c.name, "convergence".to_string()),
            Check::Command(c) => (
                &c.name,
                format!(
                    "command {}",
                    c.argv.first().map(String::as_str).unwrap_or_default()
                ),
            ),
        };
        declared.clone().unwrap_or(default)
    }

    /// The project an output or convergence check is limited to.
    pub fn project(&self) -> Option<&str> {
        match self {
            Check::Output(c) => c.project.as_deref(),
            Check::Convergence(c) => c.project.as_deref(),
            _ => None,
        }
    }

    /// Whether the check looks at one project's Terraform (output,
    /// convergence) rather than at the environment as a whole.
    pub fn per_project(&self) -> bool {
        matches!(self, Check::Output(_) | Check::Convergence(_))
    }

    fn common(&self) -> Option<CheckCommon<'_>> {
        match self {
            Check::Http(c) => Some(CheckCommon::of(&c.retries, &c.interval, &c.timeout)),
            Check::Tls(c) => Some(CheckCommon::of(&c.retries, &c.interval, &c.timeout)),
            Check::Dns(c) => Some(CheckCommon::of(&c.retries, &c.interval, &c.timeout)),
            Check::Command(c) => Some(CheckCommon::of(&c.retries, &c.interval, &c.timeout)),
            Check::Output(_) | Check::Convergence(_) => None,
        }
    }

    /// The attempt policy, defaults filled in. Expects a validated check
    /// (an unparsable duration falls back to the default).
    pub fn policy(&self) -> AttemptPolicy {
        let default_timeout = match self {
            Check::Command(_) => DEFAULT_COMMAND_TIMEOUT,
            _ => DEFAULT_TIMEOUT,
        };
        let Some(c) = self.common() else {
            return AttemptPolicy {
                attempts: 1,
                interval: Duration::ZERO,
                timeout: default_timeout,
            };
        };
        let dur = |d: &Option<String>, default| {
            d.as_deref()
                .and_then(|t| parse_duration(t).ok())
                .unwrap_or(default)
        };
        AttemptPolicy {
            attempts: 1 + c.retries.unwrap_or(0).min(MAX_RETRIES),
            interval: dur(c.interval, DEFAULT_INTERVAL),
            timeout: dur(c.timeout, default_timeout),
        }
    }
}

/// `500ms`, `10s`, `2m` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not a duration; write e.g. `500ms`, `10s` or `2m`");
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(bad()),
    };
    if d > Duration::from_secs(3600) {
        return Err(format!("`{text}` is longer than an hour"));
    }
    Ok(d)
}

/// Every problem of a list of checks, as (field path under `prefix`, message).
pub fn check_problems(checks: &[Check], prefix: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    for (i, check) in checks.iter().enumerate() {
        let at = |field: &str| format!("{prefix}[{i}].{field}");
        let mut push = |field: &str, msg: String| out.push((at(field), msg));
        if let Some(c) = check.common() {
            for (field, value) in [("interval", c.interval), ("timeout", c.timeout)] {
                if let Some(Err(e)) = value.as_deref().map(parse_duration) {
                    push(field, e);
                }
            }
            if c.retries.is_some_and(|r| r > MAX_RETRIES) {
                push("retries", format!("at most {MAX_RETRIES}"));
            }
        }
        match check {
            Check::Http(c) => {
                match http::Uri::try_from(c.url.as_str()) {
                    Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) => {
                        if uri.host().is_none() {
                            push("url", "names no host".into());
                        }
                    }
                    _ => push(
                        "url",
                        "must be an absolute `http://` or `https://` URL".into(),
                    ),
                }
                if c.body_contains.is_some() && c.body_regex.is_some() {
                    push(
                        "body_regex",
                        "give `body_contains` or `body_regex`, not both".into(),
                    );
                }
                if let Some(Err(e)) = c.body_regex.as_deref().map(regex::Regex::new) {
                    push("body_regex", regex_problem(&e));
                }
                if let Some(s) = c.expect_status {
                    if !(100..=599).contains(&s) {
                        push("expect_status", "must be an HTTP status (100-599)".into());
                    }
                }
                if let Some(Err(e)) = c.warn_latency.as_deref().map(parse_duration) {
                    push("warn_latency", e);
                }
            }
            Check::Tls(c) => {
                if split_host_port(&c.host, 443).is_none() {
                    push("host", "write `host` or `host:port`".into());
                }
                if let (Some(min), Some(warn)) = (c.min_days_valid, c.warn_days_valid) {
                    if warn < min {
                        push(
                            "warn_days_valid",
                            "must be at least `min_days_valid`".into(),
                        );
                    }
                }
            }
            Check::Dns(c) => {
                if c.record.trim().is_empty() || c.record.split('.').any(|l| l.len() > 63) {
                    push("record", "must be a DNS name".into());
                }
                if let Some(r) = &c.resolver {
                    if r.parse::<std::net::SocketAddr>().is_err() {
                        push(
                            "resolver",
                            format!("`{r}` is not `ip:port` (e.g. `10.0.0.2:53`)"),
                        );
                    }
                }
            }
            Check::Output(c) => {
                if c.output.trim().is_empty() {
                    push("output", "name the Terraform output".into());
                }
                if let Some(Err(e)) = c.matches.as_deref().map(regex::Regex::new) {
                    push("matches", regex_problem(&e));
                }
            }
            Check::Convergence(_) => {}
            Check::Command(c) => {
                if c.argv.first().is_none_or(|p| p.trim().is_empty()) {
                    push("argv", "name the program to run first".into());
                }
            }
        }
    }
    out
}

/// A regex error on one line: the parser's own message spans several.
fn regex_problem(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default().trim();
    format!(
        "bad regular expression: {}",
        last.trim_start_matches("error: ")
    )
}

/// `host:port` (or a bare host with `default_port`); IPv6 as `[::1]:443`.
pub fn split_host_port(text: &str, default_port: u16) -> Option<(String, u16)> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(rest) = t.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match t.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Some((host.to_string(), port.parse().ok()?)).filter(|(h, _)| !h.is_empty())
        }
        Some(_) => None,
        None => Some((t.to_string(), default_port)),
    }
}

/// The URL as evidence shows it: no user info, no query string.
pub fn shown_url(url: &str) -> String {
    match http::Uri::try_from(url) {
        Ok(uri) => {
            let host = uri.host().unwrap_or_default();
            let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
            let query = if uri.query().is_some() { "?…" } else { "" };
            format!(
                "{}://{host}{port}{}{query}",
                uri.scheme_str().unwrap_or("http"),
                uri.path()
            )
        }
        Err(_) => {
            // Unparseable: up to 80 characters of what precedes any query or
            // user info, on one line.
            let head = url.split(['?', '@']).next().unwrap_or_default();
            let line: String = head
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let line = line.trim();
            if line.chars().count() <= 80 {
                line.to_string()
            } else {
                format!("{}…", line.chars().take(80).collect::<String>())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_ms_s_and_m_and_refuse_other_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("61m").is_err());
    }

    #[test]
    fn host_port_defaults_the_port_and_reads_ipv6_brackets() {
        assert_eq!(
            split_host_port("example.com", 443),
            Some(("example.com".into(), 443))
        );
        assert_eq!(
            split_host_port("127.0.0.1:8443", 443),
            Some(("127.0.0.1".into(), 8443))
        );
        assert_eq!(split_host_port("[::1]:853", 443), Some(("::1".into(), 853)));
        assert_eq!(split_host_port("a:b:c", 443), None);
        assert_eq!(split_host_port(":443", 443), None);
    }
}
