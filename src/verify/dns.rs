//! The `dns` check: one query over UDP to the configured resolver (or the
//! first `nameserver` of /etc/resolv.conf), the answer's values of the
//! asked type compared with the expected ones. A small own client: it
//! reads A, AAAA and CNAME records and follows name compression, which is
//! all a check needs, and asks the resolver the check names, not the
//! system's stub with its caches and search lists.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::{Attempt, Probe};
use crate::config::{DnsCheck, DnsRecordType};

/// The largest answer read; larger ones are truncated by the server (TC).
const MAX_MESSAGE: usize = 4096;

pub struct DnsProbe {
    spec: DnsCheck,
    resolver: SocketAddr,
}

/// A record from an answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Other(u16),
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub id: u16,
    /// 0 no error, 2 server failure, 3 no such name.
    pub rcode: u8,
    pub truncated: bool,
    pub records: Vec<Record>,
}

impl DnsProbe {
    pub fn new(spec: &DnsCheck) -> Result<DnsProbe, String> {
        let resolver = match &spec.resolver {
            Some(r) => r
                .parse()
                .map_err(|_| format!("resolver `{r}` is not ip:port"))?,
            None => system_resolver()?,
        };
        Ok(DnsProbe {
            spec: spec.clone(),
            resolver,
        })
    }

    async fn ask(&self) -> Result<Answer, String> {
        let local: SocketAddr = if self.resolver.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| format!("bind: {e}"))?;
        socket
            .connect(self.resolver)
            .await
            .map_err(|e| format!("resolver {}: {e}", self.resolver))?;
        let id: u16 = rand::random();
        let query = encode_query(id, &self.spec.record, qtype(self.spec.record_type))?;
        socket
            .send(&query)
            .await
            .map_err(|e| format!("resolver {}: {e}", self.resolver))?;
        let mut buf = vec![0u8; MAX_MESSAGE];
        // Datagrams that are not our answer (a late reply to an earlier
        // attempt) are skipped, not taken as the answer.
        loop {
            let n = socket
                .recv(&mut buf)
                .await
                .map_err(|e| format!("resolver {}: {e}", self.resolver))?;
            match parse_answer(&buf[..n]) {
                Ok(a) if a.id == id => return Ok(a),
                _ => continue,
            }
        }
    }

    fn judge(&self, answer: &Answer, latency: Duration) -> Attempt {
        let t = self.spec.record_type.as_str();
        let head = format!(
            "{} {t} via {} in {} ms",
            self.spec.record,
            self.resolver,
            latency.as_millis()
        );
        match answer.rcode {
            0 => {}
            3 => return Attempt::fail(format!("{head}: NXDOMAIN (no such name)")),
            2 => return Attempt::fail(format!("{head}: SERVFAIL")),
            r => return Attempt::fail(format!("{head}: response code {r}")),
        }
        let seen: Vec<String> = answer
            .records
            .iter()
            .filter_map(|r| match (r, self.spec.record_type) {
                (Record::A(ip), DnsRecordType::A) => Some(ip.to_string()),
                (Record::Aaaa(ip), DnsRecordType::Aaaa) => Some(ip.to_string()),
                (Record::Cname(n), DnsRecordType::Cname) => Some(n.clone()),
                _ => None,
            })
            .collect();
        let via: Vec<String> = answer
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Cname(n) if self.spec.record_type != DnsRecordType::Cname => {
                    Some(n.clone())
                }
                _ => None,
            })
            .collect();
        let mut text = format!(
            "{head}: {}",
            if seen.is_empty() {
                "no records".to_string()
            } else {
                seen.join(", ")
            }
        );
        if !via.is_empty() {
            text.push_str(&format!(" (via CNAME {})", via.join(" → ")));
        }
        if answer.truncated {
            text.push_str(" (truncated answer)");
        }
        if seen.is_empty() {
            return Attempt::fail(text);
        }
        let missing: Vec<&str> = self
            .spec
            .expect
            .iter()
            .filter(|want| !seen.iter().any(|have| same_value(have, want)))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Attempt::pass(text)
        } else {
            Attempt::fail(format!("{text}; missing {}", missing.join(", ")))
        }
    }
}

impl Probe for DnsProbe {
    async fn attempt(&self, timeout: Duration) -> Attempt {
        let started = Instant::now();
        match tokio::time::timeout(timeout, self.ask()).await {
            Err(_) => Attempt::fail(format!(
                "{} {} via {}: no answer within {} ms",
                self.spec.record,
                self.spec.record_type.as_str(),
                self.resolver,
                timeout.as_millis()
            )),
            Ok(Err(e)) => Attempt::fail(format!("{}: {e}", self.spec.record)),
            Ok(Ok(answer)) => self.judge(&answer, started.elapsed()),
        }
    }
}

/// Addresses compare as addresses (`::1` = `0::1`), names without case or
/// trailing dot.
fn same_value(have: &str, want: &str) -> bool {
    match (have.parse::<IpAddr>(), want.trim().parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => have
            .trim_end_matches('.')
            .eq_ignore_ascii_case(want.trim().trim_end_matches('.')),
    }
}

fn qtype(t: DnsRecordType) -> u16 {
    match t {
        DnsRecordType::A => 1,
        DnsRecordType::Aaaa => 28,
        DnsRecordType::Cname => 5,
    }
}

/// The first `nameserver` of /etc/resolv.conf, port 53.
fn system_resolver() -> Result<SocketAddr, String> {
    let text = std::fs::read_to_string("/etc/resolv.conf")
        .map_err(|e| format!("no `resolver` given and /etc/resolv.conf: {e}"))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| "no `resolver` given and /etc/resolv.conf names no nameserver".into())
}

/// A recursive query for `name` of type `qtype`, class IN.
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut m = Vec::with_capacity(32 + name.len());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    m.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    m.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // AN, NS, AR
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("`{name}` is not a DNS name"));
        }
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    Ok(m)
}

/// Parses an answer's header and answer section.
pub fn parse_answer(msg: &[u8]) -> Result<Answer, String> {
    let short = || "short DNS message".to_string();
    let u16_at = |i: usize| -> Result<u16, String> {
        Ok(u16::from_be_bytes([
            *msg.get(i).ok_or_else(short)?,
            *msg.get(i + 1).ok_or_else(short)?,
        ]))
    };
    let id = u16_at(0)?;
    let flags = u16_at(2)?;
    if flags & 0x8000 == 0 {
        return Err("not a response".into());
    }
    let qd = u16_at(4)?;
    let an = u16_at(6)?;
    let mut pos = 12;
    for _ in 0..qd {
        pos = read_name(msg, pos)?.1;
        pos += 4;
    }
    let mut records = vec![];
    for _ in 0..an {
        pos = read_name(msg, pos)?.1;
        let rtype = u16_at(pos)?;
        let len = usize::from(u16_at(pos + 8)?);
        let data_at = pos + 10;
        let data = msg.get(data_at..data_at + len).ok_or_else(short)?;
        records.push(match (rtype, len) {
            (1, 4) => Record::A(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
            (28, 16) => Record::Aaaa(Ipv6Addr::from(
                <[u8; 16]>::try_from(data).map_err(|_| short())?,
            )),
            (5, _) => Record::Cname(read_name(msg, data_at)?.0),
            (t, _) => Record::Other(t),
        });
        pos = data_at + len;
    }
    Ok(Answer {
        id,
        rcode: (flags & 0x000f) as u8,
        truncated: flags & 0x0200 != 0,
        records,
    })
}

/// A (possibly compressed) name at `pos`: the name and the position after it.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut labels = vec![];
    let mut end = None;
    // Each pointer must go backwards, so a loop of pointers ends.
    let mut limit = pos;
    loop {
        let len = *msg.get(pos).ok_or("short DNS name")?;
        match len {
            0 => {
                let after = end.unwrap_or(pos + 1);
                return Ok((labels.join("."), after));
            }
            l if l & 0xc0 == 0xc0 => {
                let next = usize::from(u16::from_be_bytes([
                    l & 0x3f,
                    *msg.get(pos + 1).ok_or("short DNS name")?,
                ]));
                if next >= limit {
                    return Err("DNS name pointer loop".into());
                }
                end.get_or_insert(pos + 2);
                limit = next;
                pos = next;
            }
            l => {
                let l = usize::from(l);
                let label = msg.get(pos + 1..pos + 1 + l).ok_or("short DNS name")?;
                labels.push(String::from_utf8_lossy(label).into_owned());
                pos += 1 + l;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_cname_and_a_records_are_read() {
        let mut m = encode_query(7, "www.example.com", 1).unwrap();
        m[2] = 0x81; // response, RD
        m[3] = 0x80; // RA
        m[7] = 2; // ANCOUNT
                  // www.example.com CNAME web.example.com (name by pointer to 12)
        m.extend_from_slice(&[
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'w', b'e', b'b', 0xc0, 16,
        ]);
        let web = m.len() - 6;
        m.extend_from_slice(&[0xc0, web as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        let a = parse_answer(&m).unwrap();
        assert_eq!(a.id, 7);
        assert_eq!(
            a.records,
            vec![
                Record::Cname("web.example.com".into()),
                Record::A(Ipv4Addr::new(192, 0, 2, 7))
            ]
        );
    }

    #[test]
    fn a_pointer_loop_is_an_error_not_a_hang() {
        let m = [0u8, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12];
        assert!(parse_answer(&m).is_err());
    }
}
