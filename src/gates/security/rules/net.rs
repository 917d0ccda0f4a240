//! Network exposure shared by the firewall rules of every cloud: which
//! sources count as "the whole internet" and which ports a rule opens.

/// Sources that mean "anyone": IPv4 and IPv6 catch-alls and Azure's tags.
pub(crate) fn is_world(source: &str) -> bool {
    matches!(
        source.trim(),
        "0.0.0.0/0" | "::/0" | "0.0.0.0" | "*" | "Internet" | "Any" | "any" | "internet" | "0::0/0"
    )
}

/// A port range, inclusive. `None` bounds mean "every port".
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ports {
    pub from: u32,
    pub to: u32,
}

impl Ports {
    pub const ALL: Ports = Ports { from: 0, to: 65535 };
    pub fn contains(self, port: u32) -> bool {
        self.from <= port && port <= self.to
    }
    pub fn is_all(self) -> bool {
        self.from <= 1 && self.to >= 65535
    }
}

/// Parses `22`, `1000-2000` or `*` (Azure, Google).
pub(crate) fn parse_range(text: &str) -> Option<Ports> {
    let t = text.trim();
    if t == "*" || t.is_empty() {
        return Some(Ports::ALL);
    }
    match t.split_once('-') {
        Some((a, b)) => Some(Ports {
            from: a.trim().parse().ok()?,
            to: b.trim().parse().ok()?,
        }),
        None => t.parse().ok().map(|p| Ports { from: p, to: p }),
    }
}

/// Well-known database ports: MySQL, PostgreSQL, SQL Server, Oracle,
/// MongoDB, Redis, Elasticsearch, Cassandra, Redshift, Memcached.
pub(crate) const DB_PORTS: &[u32] = &[1433, 1521, 3306, 5432, 5439, 6379, 9042, 9200, 11211, 27017];

/// What a rule checks for in a port range.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PortTest {
    One(u32),
    Database,
    All,
}

impl PortTest {
    /// The offending port(s) as text, when the range hits.
    pub fn hits(self, ports: Ports) -> Option<String> {
        match self {
            PortTest::One(p) => ports.contains(p).then(|| p.to_string()),
            PortTest::Database => {
                // An all-ports rule is reported by the all-ports rule alone.
                if ports.is_all() {
                    return None;
                }
                let hit: Vec<String> = DB_PORTS
                    .iter()
                    .filter(|p| ports.contains(**p))
                    .map(u32::to_string)
                    .collect();
                (!hit.is_empty()).then(|| hit.join(", "))
            }
            PortTest::All => ports.is_all().then(|| "all ports".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_match() {
        assert_eq!(parse_range("20-23").map(|p| p.contains(22)), Some(true));
        assert!(parse_range("*").is_some_and(Ports::is_all));
        assert_eq!(
            PortTest::Database.hits(Ports {
                from: 5432,
                to: 5432
            }),
            Some("5432".into())
        );
        assert_eq!(PortTest::Database.hits(Ports::ALL), None);
        assert!(is_world("::/0") && is_world("Internet") && !is_world("10.0.0.0/8"));
    }
}
