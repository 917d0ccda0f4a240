//! `phasegate prices import`: turns the providers' machine-readable price
//! lists into rows of the embedded book, each with its SKU per region and a
//! provenance entry naming the list and the date.
//!
//! Pure: the command reads the files and writes the book; this module only
//! parses text and merges rows. Each format has its own module (`aws`,
//! `azure`, `google`); `write` renders a book file in the committed layout.

mod aws;
mod azure;
mod google;
mod write;

use std::collections::BTreeMap;

use super::book::{read_file, BookFile, Provenance, Provider, Rate};

pub use write::render_book;

/// Errors reading a price list or the book.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}:{line}:{column}: not a JSON price list: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Format { file: String, message: String },
    #[error("{0}")]
    Book(String),
}

impl From<ImportError> for crate::error::Error {
    fn from(e: ImportError) -> Self {
        crate::error::Error::Input(e.to_string())
    }
}

/// One price read from a price list.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub table: String,
    pub key: String,
    pub region: String,
    pub usd: f64,
    pub unit: String,
    /// The list's identifier for the price (SKU, offer term, rate code).
    pub sku: String,
    pub vcpu: Option<f64>,
    pub memory_gib: Option<f64>,
}

/// What one price-list file yielded.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// How the list names itself (`AWS offer AmazonEC2 20261120...`).
    pub list: String,
    pub url: String,
    /// The address that leads to every list of the provider (an index),
    /// named when one import reads several lists.
    pub index_url: &'static str,
    /// `YYYY-MM-DD`: the list's publication date, or the day it was fetched.
    pub taken: String,
    pub rows: Vec<Row>,
    /// Entries left out, with the reason (zero prices, conflicts).
    pub skipped: Vec<String>,
}

/// The formats `prices import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// AWS Price List Bulk API offer file (`index.json`).
    AwsOffer,
    /// Azure Retail Prices API response (`{"Items": [...]}`).
    AzureRetail,
    /// Google Cloud Billing Catalog `services/*/skus` response.
    GoogleSkus,
}

impl Format {
    /// The services a refresh downloads for this format, by the provider's
    /// own names: AWS offer codes, Azure `serviceName`s, Google Catalog
    /// service ids. Files of other services yield no rows.
    pub fn services(self) -> &'static [&'static str] {
        match self {
            Format::AwsOffer => &aws::OFFERS,
            Format::AzureRetail => &azure::SERVICES,
            Format::GoogleSkus => &google::SERVICES,
        }
    }

    pub fn provider(self) -> Provider {
        match self {
            Format::AwsOffer => Provider::Aws,
            Format::AzureRetail => Provider::Azure,
            Format::GoogleSkus => Provider::Google,
        }
    }
}

/// Parses one price-list file. `fetched` is the day the file was downloaded,
/// used where the format carries no publication date (Azure, Google).
/// `book` supplies machine shapes the Google catalog prices per vCPU and GB.
pub fn parse(
    format: Format,
    file: &str,
    text: &str,
    fetched: &str,
    book: &BookFile,
) -> Result<Imported, ImportError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| ImportError::Json {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let mut imported = match format {
        Format::AwsOffer => aws::parse(file, &json)?,
        Format::AzureRetail => azure::parse(file, &json, fetched)?,
        Format::GoogleSkus => google::parse(file, &json, fetched, book)?,
    };
    dedupe(&mut imported);
    keep_known(&mut imported, book);
    Ok(imported)
}

/// A refresh prices the rows the book has, in every region the lists
/// publish; it does not add keys. A price list holds every instance type
/// and disk tier the provider sells, which in every region would grow the
/// book (and the binary that embeds it) several times past its budget
/// (prices/README.md). A row added by hand is priced by the next import.
/// Into an empty book everything comes in.
fn keep_known(imported: &mut Imported, book: &BookFile) {
    if book.tables.is_empty() {
        return;
    }
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    imported.rows.retain(|r| {
        let known = book
            .tables
            .get(&r.table)
            .is_some_and(|t| t.contains_key(&r.key));
        if !known {
            *unknown.entry(r.table.clone()).or_default() += 1;
        }
        known
    });
    if !unknown.is_empty() {
        let counts: Vec<String> = unknown.iter().map(|(t, n)| format!("{t} {n}")).collect();
        imported.skipped.push(format!(
            "{} price(s) for keys the book has no row for ({}); add a row to the book to price one",
            unknown.values().sum::<usize>(),
            counts.join(", ")
        ));
    }
}

/// Zero prices are dropped (a price list's zero is a free tier or a
/// placeholder, never a list price), and two different prices for one row
/// and region drop the row rather than pick one.
fn dedupe(imported: &mut Imported) {
    let mut seen: BTreeMap<(String, String, String), Row> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for row in std::mem::take(&mut imported.rows) {
        if row.usd <= 0.0 {
            imported.skipped.push(format!(
                "{}.{} in {} ({}): zero price",
                row.table, row.key, row.region, row.sku
            ));
            continue;
        }
        let id = (row.table.clone(), row.key.clone(), row.region.clone());
        match seen.get(&id) {
            Some(prev) if (prev.usd - row.usd).abs() > 1e-12 => {
                conflicts.push(id.clone());
                imported.skipped.push(format!(
                    "{}.{} in {}: {} ({}) and {} ({}) disagree",
                    row.table, row.key, row.region, prev.usd, prev.sku, row.usd, row.sku
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(id, row);
            }
        }
    }
    for id in conflicts {
        seen.remove(&id);
    }
    imported.rows = seen.into_values().collect();
}

/// The verification statement of every imported provenance entry.
const IMPORTED: &str = "yes: imported by `phasegate prices import` from the provider's machine-readable price list; the SKU per region names the exact price";

/// Merges imported rows into a book: an imported row replaces the book's
/// row of the same key wholesale (its regions, SKUs and provenance), keeping
/// only the machine shape when the list does not give one. A row's regions
/// therefore all come from one import: give it every region's file at once.
/// Provenance no row names any more is dropped.
pub fn merge(mut book: BookFile, imports: &[Imported]) -> BookFile {
    let Some(first) = imports.first() else {
        return book;
    };
    let taken = imports
        .iter()
        .map(|i| i.taken.as_str())
        .min()
        .unwrap_or(&first.taken)
        .to_string();
    let id = format!("{}-import-{taken}", book.provider);
    // One file per region and service: each list once, however many
    // regions' files named it, and one address for them all. An entry of
    // the same day from an earlier import (another service, imported on
    // its own) still backs its rows, so its lists are kept.
    let earlier = book.provenance.get(&id).filter(|p| p.verified == IMPORTED);
    let mut lists: std::collections::BTreeSet<&str> =
        imports.iter().map(|i| i.list.as_str()).collect();
    lists.extend(earlier.iter().flat_map(|p| p.list.split("; ")));
    let same_url =
        imports.iter().all(|i| i.url == first.url) && earlier.is_none_or(|p| p.url == first.url);
    let url = if same_url {
        first.url.clone()
    } else {
        first.index_url.to_string()
    };
    let lists = lists.into_iter().collect::<Vec<_>>().join("; ");
    book.provenance.insert(
        id.clone(),
        Provenance {
            list: lists,
            url,
            taken,
            verified: IMPORTED.into(),
        },
    );
    let mut fresh: BTreeMap<(String, String), Rate> = BTreeMap::new();
    for row in imports.iter().flat_map(|i| &i.rows) {
        let old = book.tables.get(&row.table).and_then(|t| t.get(&row.key));
        let rate = fresh
            .entry((row.table.clone(), row.key.clone()))
            .or_insert_with(|| Rate {
                unit: row.unit.clone(),
                vcpu: row.vcpu.or(old.and_then(|o| o.vcpu)),
                memory_gib: row.memory_gib.or(old.and_then(|o| o.memory_gib)),
                usd: BTreeMap::new(),
                from: id.clone(),
                sku: BTreeMap::new(),
                checked: None,
            });
        rate.usd.insert(row.region.clone(), row.usd);
        rate.sku.insert(row.region.clone(), row.sku.clone());
        if !book.regions.contains(&row.region) {
            book.regions.push(row.region.clone());
        }
    }
    for ((table, key), rate) in fresh {
        book.tables.entry(table).or_default().insert(key, rate);
    }
    let used: std::collections::BTreeSet<String> = book
        .tables
        .values()
        .flat_map(|t| t.values().map(|r| r.from.clone()))
        .collect();
    book.provenance.retain(|k, _| used.contains(k));
    book
}

/// Reads a book file for merging (the embedded layout).
pub fn read_book(origin: &str, text: &str) -> Result<BookFile, ImportError> {
    read_file(origin, text).map_err(ImportError::Book)
}

/// An empty book for a provider, when the file does not exist yet.
pub fn empty_book(provider: Provider) -> BookFile {
    BookFile {
        provider: match provider {
            Provider::Aws => "aws",
            Provider::Google => "google",
            Provider::Azure => "azure",
        }
        .into(),
        regions: Vec::new(),
        free_types: Vec::new(),
        provenance: BTreeMap::new(),
        tables: BTreeMap::new(),
    }
}

/// A JSON string field, or "" when absent.
fn s<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key).and_then(serde_json::Value::as_str).unwrap_or("")
}
