//! The Azure Retail Prices API (`https://prices.azure.com/api/retail/prices`):
//! a page of `Items`, each one meter in one region.
//!
//! Read: pay-as-you-go (`type: Consumption`) virtual machines, Linux and
//! Windows by product name, without Spot or Low Priority meters; and managed
//! disk tiers (`P10 LRS Disk` and kin). Everything else is left to other
//! rows of the book.

use serde_json::Value;

use super::{s, ImportError, Imported, Row};

/// The `serviceName`s this module reads (managed disks are under Storage).
pub const SERVICES: [&str; 2] = ["Virtual Machines", "Storage"];

/// Managed disk tier numbers and the size in GiB each holds.
const DISK_TIERS: [(&str, u32); 8] = [
    ("4", 32),
    ("6", 64),
    ("10", 128),
    ("15", 256),
    ("20", 512),
    ("30", 1024),
    ("40", 2048),
    ("50", 4096),
];

fn target(item: &Value) -> Option<(&'static str, String, &'static str)> {
    let meter = s(item, "meterName");
    if meter.contains("Spot") || meter.contains("Low Priority") {
        return None;
    }
    let product = s(item, "productName");
    match s(item, "serviceName") {
        "Virtual Machines" if s(item, "unitOfMeasure") == "1 Hour" => {
            let table = if product.ends_with("Windows") {
                "vm_windows"
            } else {
                "vm_linux"
            };
            let sku = s(item, "armSkuName");
            (!sku.is_empty()).then(|| (table, sku.to_string(), "hour"))
        }
        "Storage" if product.contains("Managed Disks") && meter.ends_with(" Disk") => {
            // `P10 LRS Disk`: tier letter and number, then redundancy.
            let mut words = meter.split(' ');
            let tier = words.next()?;
            let redundancy = words.next()?;
            let (kind, number) = tier.split_at(1);
            let kind = match kind {
                "P" => "Premium",
                "E" => "StandardSSD",
                "S" => "Standard",
                _ => return None,
            };
            let size = DISK_TIERS.iter().find(|(n, _)| *n == number)?.1;
            Some((
                "managed_disk",
                format!("{kind}_{redundancy}/{size}"),
                "disk-month",
            ))
        }
        _ => None,
    }
}

pub(super) fn parse(file: &str, json: &Value, fetched: &str) -> Result<Imported, ImportError> {
    let items = json
        .get("Items")
        .and_then(Value::as_array)
        .ok_or_else(|| ImportError::Format {
            file: file.to_string(),
            message: "no `Items` array: not an Azure Retail Prices API response".into(),
        })?;
    let mut out = Imported {
        list: "Azure Retail Prices API".into(),
        url: "https://prices.azure.com/api/retail/prices".into(),
        index_url: "https://prices.azure.com/api/retail/prices",
        taken: fetched.to_string(),
        rows: Vec::new(),
        skipped: Vec::new(),
    };
    for item in items {
        if s(item, "type") != "Consumption" || s(item, "currencyCode") != "USD" {
            continue;
        }
        let Some((table, key, unit)) = target(item) else {
            continue;
        };
        let Some(usd) = item.get("retailPrice").and_then(Value::as_f64) else {
            out.skipped.push(format!("{key}: no retailPrice"));
            continue;
        };
        let region = s(item, "armRegionName");
        if region.is_empty() {
            out.skipped
                .push(format!("{table}.{key}: meter without a region"));
            continue;
        }
        out.rows.push(Row {
            table: table.into(),
            key,
            region: region.to_string(),
            usd,
            unit: unit.into(),
            sku: format!("{} meter {}", s(item, "skuId"), s(item, "meterId")),
            vcpu: None,
            memory_gib: None,
        });
    }
    Ok(out)
}
