//! The Google Cloud Billing Catalog API (`services/<id>/skus`): SKUs with a
//! category, the regions they apply to and tiered unit prices in units plus
//! nanos.
//!
//! Read: on-demand persistent disk capacity, and the per-vCPU and per-GB
//! prices of the E2, N2 and N1 predefined machine families. Google prices
//! machine types as vCPUs plus memory, so a standard machine type's hourly
//! price is its shape (from the book) times those two published SKUs; both
//! SKUs are recorded. Shared-core types (e2-micro/small/medium) bill
//! fractions of a vCPU and are not composed.

use std::collections::BTreeMap;

use serde_json::Value;

use super::super::book::BookFile;
use super::{s, ImportError, Imported, Row};

/// The Catalog services this module reads: Compute Engine, by service id.
pub const SERVICES: [&str; 1] = ["6F81-5844-456A"];

/// Description prefixes of the SKUs read, and what they price.
const DISKS: [(&str, &str); 4] = [
    ("Storage PD Capacity", "pd-standard"),
    ("SSD backed PD Capacity", "pd-ssd"),
    ("Balanced PD Capacity", "pd-balanced"),
    ("Extreme PD Capacity", "pd-extreme"),
];
const FAMILIES: [(&str, &str); 3] = [
    ("E2 Instance", "e2"),
    ("N2 Instance", "n2"),
    ("N1 Predefined Instance", "n1"),
];

/// The first tier's price, in USD.
fn price(sku: &Value) -> Option<f64> {
    let expr = sku.get("pricingInfo")?.get(0)?.get("pricingExpression")?;
    let tier = expr.get("tieredRates")?.as_array()?.iter().find(|t| {
        t.get("startUsageAmount")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            == 0.0
    })?;
    let unit_price = tier.get("unitPrice")?;
    let units = match unit_price.get("units") {
        Some(Value::String(u)) => u.parse::<f64>().ok()?,
        Some(Value::Number(n)) => n.as_f64()?,
        _ => 0.0,
    };
    let nanos = unit_price
        .get("nanos")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    Some(units + nanos / 1e9)
}

fn regions(sku: &Value) -> Vec<String> {
    sku.get("serviceRegions")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn parse(
    file: &str,
    json: &Value,
    fetched: &str,
    book: &BookFile,
) -> Result<Imported, ImportError> {
    let skus = json
        .get("skus")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::Format {
            file: file.to_string(),
            message: "no `skus` array: not a Cloud Billing Catalog SKU list".into(),
        })?;
    let mut out = Imported {
        list: "Google Cloud Billing Catalog API SKUs".into(),
        url: "https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus".into(),
        index_url: "https://cloudbilling.googleapis.com/v1/services",
        taken: fetched.to_string(),
        rows: Vec::new(),
        skipped: Vec::new(),
    };
    // (family, "core"|"ram", region) -> (price, sku id)
    let mut parts: BTreeMap<(String, &str, String), (f64, String)> = BTreeMap::new();
    for sku in skus {
        let category = sku.get("category").unwrap_or(&Value::Null);
        if s(category, "usageType") != "OnDemand" {
            continue;
        }
        let description = s(sku, "description");
        let id = s(sku, "skuId").to_string();
        let Some(usd) = price(sku) else {
            out.skipped.push(format!("{id}: no price"));
            continue;
        };
        if let Some((_, disk)) = DISKS.iter().find(|(p, _)| description.starts_with(p)) {
            if description.contains("Regional") {
                continue;
            }
            for region in regions(sku) {
                out.rows.push(Row {
                    table: "compute_disk".into(),
                    key: disk.to_string(),
                    region,
                    usd,
                    unit: "gb-month".into(),
                    sku: id.clone(),
                    vcpu: None,
                    memory_gib: None,
                });
            }
            continue;
        }
        if s(category, "resourceFamily") != "Compute" || description.contains("Custom") {
            continue;
        }
        let Some((_, family)) = FAMILIES.iter().find(|(p, _)| description.starts_with(p)) else {
            continue;
        };
        let part = match s(category, "resourceGroup") {
            "CPU" | "N1Standard" if description.contains("Core") => "core",
            "RAM" | "N1Standard" if description.contains("Ram") => "ram",
            _ => continue,
        };
        for region in regions(sku) {
            parts.insert((family.to_string(), part, region), (usd, id.clone()));
        }
    }
    let shapes = book.tables.get("compute_instance");
    for ((family, part, region), (core, core_sku)) in &parts {
        if *part != "core" {
            continue;
        }
        let Some((ram, ram_sku)) = parts.get(&(family.clone(), "ram", region.clone())) else {
            continue;
        };
        for (key, rate) in shapes.into_iter().flatten() {
            let standard = key.starts_with(&format!("{family}-standard-"))
                || key.starts_with(&format!("{family}-highmem-"))
                || key.starts_with(&format!("{family}-highcpu-"));
            let (Some(vcpu), Some(mem)) = (rate.vcpu, rate.memory_gib) else {
                continue;
            };
            if !standard {
                continue;
            }
            out.rows.push(Row {
                table: "compute_instance".into(),
                key: key.clone(),
                region: region.clone(),
                // Catalog prices are whole nanodollars; rounding there keeps
                // the sum's float noise out of the book.
                usd: ((vcpu * core + mem * ram) * 1e9).round() / 1e9,
                unit: "hour".into(),
                sku: format!("{vcpu} x {core_sku} + {mem} GB x {ram_sku}"),
                vcpu: Some(vcpu),
                memory_gib: Some(mem),
            });
        }
    }
    Ok(out)
}
