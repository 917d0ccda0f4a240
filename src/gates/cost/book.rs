//! The embedded price book: public list prices per provider. Every rate names
//! its provenance (which price list, when, whether and how it was verified)
//! and, for rows read from a machine-readable price list, the SKU per region.
//!
//! No figure is derived from another region: a row without a SKU may price
//! only the book's first region, so a region nobody published a price for is
//! unpriced with that reason instead of scaled.
//!
//! The YAML files under `prices/` are compiled in and parsed once, on first
//! use. A malformed book is a build defect, caught by the unit tests here, so
//! loading panics with the file and the parser's message rather than
//! threading an error no user could fix.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// The cloud a resource type belongs to, by its type prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Provider {
    Aws,
    Google,
    Azure,
}

impl Provider {
    /// The provider of a resource type, from Terraform's naming convention.
    pub fn of_type(resource_type: &str) -> Option<Provider> {
        if resource_type.starts_with("aws_") {
            Some(Provider::Aws)
        } else if resource_type.starts_with("google_") {
            Some(Provider::Google)
        } else if resource_type.starts_with("azurerm_") {
            Some(Provider::Azure)
        } else {
            None
        }
    }

    /// The provider configuration key in the plan (`configuration.provider_config`).
    pub fn config_key(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Google => "google",
            Provider::Azure => "azurerm",
        }
    }
}

/// Where a group of rates comes from.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The price list by name: a page or an API/offer file.
    pub list: String,
    /// Its address.
    pub url: String,
    /// `YYYY-MM-DD` the figures were read.
    pub taken: String,
    /// Whether the figures were verified, and how (`no: ...` when not).
    pub verified: String,
}

/// One published rate.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// What one unit of the price buys: `hour`, `month`, `gb-month`, `gb`, ...
    pub unit: String,
    #[serde(default)]
    pub vcpu: Option<f64>,
    #[serde(default)]
    pub memory_gib: Option<f64>,
    /// USD per unit by region; `*` for a price that is the same everywhere.
    pub usd: BTreeMap<String, f64>,
    /// The key of the row's entry under `provenance`.
    pub from: String,
    /// The price list's SKU (and offer term / rate code) per region.
    #[serde(default)]
    pub sku: BTreeMap<String, String>,
    /// A cross-check beyond the provenance, when one was made.
    #[serde(default)]
    pub checked: Option<String>,
}

impl Rate {
    /// The price in `region`, or the global price.
    pub fn in_region(&self, region: &str) -> Option<f64> {
        self.usd.get(region).or_else(|| self.usd.get("*")).copied()
    }
}

/// One provider's book as written in YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookFile {
    pub provider: String,
    pub regions: Vec<String>,
    pub free_types: Vec<String>,
    pub provenance: BTreeMap<String, Provenance>,
    pub tables: BTreeMap<String, BTreeMap<String, Rate>>,
}

/// One provider's parsed book.
#[derive(Debug)]
pub struct Book {
    pub provider: Provider,
    /// The regions priced, the first being the fallback equivalent of us-east-1.
    pub regions: Vec<String>,
    free: GlobSet,
    pub provenance: BTreeMap<String, Provenance>,
    pub tables: BTreeMap<String, BTreeMap<String, Rate>>,
}

impl Book {
    /// A rate by table and key.
    pub fn rate(&self, table: &str, key: &str) -> Option<&Rate> {
        self.tables.get(table)?.get(key)
    }

    /// All entries of a table (for cheaper alternatives).
    pub fn table(&self, table: &str) -> Option<&BTreeMap<String, Rate>> {
        self.tables.get(table)
    }

    /// True when the type costs nothing by itself (IAM, networking glue).
    pub fn is_free(&self, resource_type: &str) -> bool {
        self.free.is_match(resource_type)
    }
}

static SOURCES: [(Provider, &str, &str); 3] = [
    (
        Provider::Aws,
        "prices/aws.yaml",
        include_str!("../../../prices/aws.yaml"),
    ),
    (
        Provider::Google,
        "prices/google.yaml",
        include_str!("../../../prices/google.yaml"),
    ),
    (
        Provider::Azure,
        "prices/azure.yaml",
        include_str!("../../../prices/azure.yaml"),
    ),
];

/// Reads a book file without checking it (the importer merges into it).
pub(crate) fn read_file(origin: &str, text: &str) -> Result<BookFile, String> {
    serde_saphyr::from_str(text).map_err(|e| format!("{origin}: {e}"))
}

/// Rows that break the provenance rules: a `from` naming no provenance, or
/// a region priced without a SKU outside the book's first region (which is
/// how scaled, unpublished figures crept in).
pub(crate) fn provenance_problems(file: &BookFile) -> Vec<String> {
    let mut problems = Vec::new();
    let first = file.regions.first().map(String::as_str).unwrap_or("");
    for (table, rates) in &file.tables {
        for (key, rate) in rates {
            if !file.provenance.contains_key(&rate.from) {
                problems.push(format!(
                    "{table}.{key}: `from: {}` names no provenance",
                    rate.from
                ));
            }
            for region in rate.usd.keys() {
                if region != "*" && region != first && !rate.sku.contains_key(region) {
                    problems.push(format!(
                        "{table}.{key}: {region} has no SKU from a price list"
                    ));
                }
            }
        }
    }
    problems
}

fn parse(provider: Provider, origin: &str, text: &str) -> Result<Book, String> {
    let file = read_file(origin, text)?;
    if let Some(problem) = provenance_problems(&file).into_iter().next() {
        return Err(format!("{origin}: {problem}"));
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in &file.free_types {
        builder.add(Glob::new(pattern).map_err(|e| format!("{origin}: free_types: {e}"))?);
    }
    let free = builder
        .build()
        .map_err(|e| format!("{origin}: free_types: {e}"))?;
    if file.regions.is_empty() {
        return Err(format!("{origin}: regions: the list is empty"));
    }
    let expected = match provider {
        Provider::Aws => "aws",
        Provider::Google => "google",
        Provider::Azure => "azure",
    };
    if file.provider != expected {
        return Err(format!(
            "{origin}: provider: `{}` where `{expected}` belongs",
            file.provider
        ));
    }
    Ok(Book {
        provider,
        regions: file.regions,
        free,
        provenance: file.provenance,
        tables: file.tables,
    })
}

/// The books in use: the embedded ones, unless `use_books` replaced some.
static BOOKS: OnceLock<Vec<Book>> = OnceLock::new();

fn embedded(provider: Provider, origin: &str, text: &str) -> Book {
    parse(provider, origin, text).unwrap_or_else(|e| panic!("embedded price book: {e}"))
}

/// Prices from book files given at run time (a copy of `prices/` refreshed
/// by `prices import`) instead of the embedded ones, for the providers
/// named; the others keep the embedded book. `files` holds each provider's
/// file name and text; they are held to the rules `parse` holds the
/// embedded books to (every row names a provenance entry, every region but
/// the first has a SKU, the provider matches). Must come before anything is
/// priced: a book in use is never swapped.
pub fn use_books(files: &[(Provider, String, String)]) -> Result<(), String> {
    let mut books = Vec::new();
    for (provider, origin, text) in SOURCES {
        books.push(match files.iter().find(|(p, ..)| *p == provider) {
            Some((_, origin, text)) => parse(provider, origin, text)?,
            None => embedded(provider, origin, text),
        });
    }
    BOOKS
        .set(books)
        .map_err(|_| "the price book is already in use".to_string())
}

/// The book for a provider, parsed on first use.
pub fn book(provider: Provider) -> &'static Book {
    let books = BOOKS.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(p, origin, text)| embedded(*p, origin, text))
            .collect()
    });
    books
        .iter()
        .find(|b| b.provider == provider)
        .expect("every provider has a book")
}

/// Regions that are each other's equivalents across clouds, by position.
const EQUIVALENT_REGIONS: [[&str; 3]; 4] = [
    ["us-east-1", "us-central1", "eastus"],
    ["eu-west-1", "europe-west1", "westeurope"],
    ["us-west-2", "us-west1", "westus2"],
    ["ap-southeast-1", "asia-southeast1", "southeastasia"],
];

/// The region name in `provider`'s spelling for a region named in any
/// provider's spelling (the context default is AWS-style).
pub fn translate_region(provider: Provider, region: &str) -> String {
    let column = match provider {
        Provider::Aws => 0,
        Provider::Google => 1,
        Provider::Azure => 2,
    };
    EQUIVALENT_REGIONS
        .iter()
        .find(|row| row.contains(&region))
        .map(|row| row[column].to_string())
        .unwrap_or_else(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_book_parses_and_every_rate_has_dated_verified_provenance() {
        for (p, origin, text) in SOURCES {
            let b = parse(p, origin, text).unwrap();
            for (id, prov) in &b.provenance {
                assert!(prov.url.starts_with("https://"), "{origin} {id}");
                assert!(
                    chrono::NaiveDate::parse_from_str(&prov.taken, "%Y-%m-%d").is_ok(),
                    "{origin} {id}: taken `{}`",
                    prov.taken
                );
                assert!(
                    !prov.list.is_empty() && !prov.verified.is_empty(),
                    "{origin} {id}"
                );
            }
            for (table, rates) in &b.tables {
                for (key, rate) in rates {
                    assert!(!rate.unit.is_empty());
                    assert!(
                        b.provenance.contains_key(&rate.from),
                        "{origin} {table}.{key}"
                    );
                    assert!(
                        rate.usd.values().all(|v| v.is_finite() && *v >= 0.0),
                        "{origin} {table}.{key}"
                    );
                }
            }
        }
    }

    #[test]
    fn no_embedded_row_prices_a_region_without_a_published_sku() {
        for (_, origin, text) in SOURCES {
            let file = read_file(origin, text).unwrap();
            assert_eq!(provenance_problems(&file), Vec::<String>::new(), "{origin}");
        }
    }

    #[test]
    fn a_scaled_regional_figure_without_a_sku_is_rejected() {
        let text = "provider: aws\nregions: [us-east-1, eu-west-1]\nfree_types: []\nprovenance:\n  p: {list: l, url: \"https://x\", taken: 2026-11-23, verified: \"no\"}\ntables:\n  t:\n    k: {unit: hour, usd: {us-east-1: 1.0, eu-west-1: 1.1}, from: p}\n";
        let err = parse(Provider::Aws, "aws.yaml", text).unwrap_err();
        assert!(err.contains("t.k: eu-west-1 has no SKU"), "{err}");
    }

    #[test]
    fn aws_book_covers_thirty_instance_types_in_ten_families() {
        let b = book(Provider::Aws);
        let types = b.table("ec2_instance").unwrap();
        assert!(types.len() >= 30);
        for family in [
            "t3", "t3a", "t4g", "m5", "m6i", "m7i", "c5", "c6i", "r5", "r6i",
        ] {
            assert!(types.keys().any(|k| k.starts_with(&format!("{family}."))));
        }
        assert!(types
            .values()
            .all(|r| r.vcpu.is_some() && r.memory_gib.is_some()));
    }

    #[test]
    fn free_types_match_by_glob() {
        let b = book(Provider::Aws);
        assert!(b.is_free("aws_iam_role"));
        assert!(b.is_free("aws_security_group_rule"));
        assert!(!b.is_free("aws_instance"));
        assert!(book(Provider::Google).is_free("google_project_iam_member"));
        assert!(book(Provider::Azure).is_free("azurerm_resource_group"));
    }

    #[test]
    fn default_region_translates_to_each_clouds_equivalent() {
        assert_eq!(
            translate_region(Provider::Google, "eu-west-1"),
            "europe-west1"
        );
        assert_eq!(translate_region(Provider::Azure, "us-east-1"), "eastus");
        assert_eq!(translate_region(Provider::Aws, "us-west-2"), "us-west-2");
        assert_eq!(translate_region(Provider::Aws, "sa-east-1"), "sa-east-1");
    }
}
