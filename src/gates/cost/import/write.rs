//! Renders a book file in the layout the repository commits: one flow-style
//! line per provenance entry and per rate, so a refresh reads as a diff of
//! prices.

use std::fmt::Write as _;

use super::super::book::{BookFile, Rate};

/// A double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn region_key(region: &str) -> String {
    if region
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        region.to_string()
    } else {
        q(region)
    }
}

fn rate_line(key: &str, rate: &Rate) -> String {
    let mut line = format!("    {}: {{unit: {}", q(key), rate.unit);
    if let Some(v) = rate.vcpu {
        let _ = write!(line, ", vcpu: {v}");
    }
    if let Some(m) = rate.memory_gib {
        let _ = write!(line, ", memory_gib: {m}");
    }
    let usd: Vec<String> = rate
        .usd
        .iter()
        .map(|(r, v)| format!("{}: {v}", region_key(r)))
        .collect();
    let _ = write!(line, ", usd: {{{}}}, from: {}", usd.join(", "), rate.from);
    if !rate.sku.is_empty() {
        let sku: Vec<String> = rate
            .sku
            .iter()
            .map(|(r, v)| format!("{}: {}", region_key(r), q(v)))
            .collect();
        let _ = write!(line, ", sku: {{{}}}", sku.join(", "));
    }
    if let Some(c) = &rate.checked {
        let _ = write!(line, ", checked: {}", q(c));
    }
    line.push_str("}\n");
    line
}

/// The book as YAML text.
pub fn render_book(book: &BookFile) -> String {
    let mut out = String::from(
        "# Public list prices, USD. Every row names its provenance (`from`); rows\n# outside the first region carry the price list's SKU (`sku`). See README.md.\n",
    );
    let _ = writeln!(out, "provider: {}", book.provider);
    let _ = writeln!(out, "regions: [{}]", book.regions.join(", "));
    let free: Vec<String> = book.free_types.iter().map(|f| q(f)).collect();
    let _ = writeln!(out, "free_types: [{}]", free.join(", "));
    out.push_str("provenance:\n");
    for (id, p) in &book.provenance {
        let _ = writeln!(
            out,
            "  {id}: {{list: {}, url: {}, taken: {}, verified: {}}}",
            q(&p.list),
            q(&p.url),
            p.taken,
            q(&p.verified)
        );
    }
    out.push_str("tables:\n");
    for (table, rates) in &book.tables {
        let _ = writeln!(out, "  {table}:");
        for (key, rate) in rates {
            out.push_str(&rate_line(key, rate));
        }
    }
    out
}
