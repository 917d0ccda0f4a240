//! AWS Price List Bulk API offer files (`offers/v1.0/aws/<offer>/<version>/
//! <region>/index.json`): `products` by SKU with attributes, `terms.OnDemand`
//! by SKU with price dimensions.
//!
//! Only what the book prices is read: EC2 Linux instances (tenancy Shared,
//! no pre-installed software, capacity status Used, "No License required",
//! so Windows, BYOL, SQL Server and reservations never leak in), EBS
//! storage/IOPS/throughput, NAT gateways, ELB, RDS MySQL/PostgreSQL/MariaDB
//! instances and storage, and S3 Standard storage and requests.

use serde_json::Value;

use super::{s, ImportError, Imported, Row};

/// The offers (price-list services) this module reads; a refresh downloads
/// each one's file for every region of its region index.
pub const OFFERS: [&str; 4] = ["AmazonEC2", "AmazonRDS", "AWSELB", "AmazonS3"];

/// Region codes for the location names of offer files that predate the
/// `regionCode` attribute.
const LOCATIONS: [(&str, &str); 4] = [
    ("US East (N. Virginia)", "us-east-1"),
    ("US West (Oregon)", "us-west-2"),
    ("EU (Ireland)", "eu-west-1"),
    ("Asia Pacific (Singapore)", "ap-southeast-1"),
];

/// Where a product lands in the book: table, key, unit, and a multiplier
/// from the list's unit to the book's (S3 requests are priced per request,
/// the book per 1,000).
struct Target {
    table: &'static str,
    key: String,
    unit: &'static str,
    scale: f64,
}

fn target(family: &str, a: &Value) -> Option<Target> {
    let t = |table, key: String, unit| {
        Some(Target {
            table,
            key,
            unit,
            scale: 1.0,
        })
    };
    let usage = s(a, "usagetype");
    match family {
        "Compute Instance" => {
            let linux_shared = s(a, "operatingSystem") == "Linux"
                && s(a, "tenancy") == "Shared"
                && s(a, "preInstalledSw") == "NA"
                && s(a, "capacitystatus") == "Used"
                && s(a, "licenseModel") == "No License required";
            linux_shared.then_some(())?;
            t("ec2_instance", s(a, "instanceType").to_string(), "hour")
        }
        "Storage" if s(a, "servicecode") == "AmazonEC2" => {
            let v = s(a, "volumeApiName");
            (!v.is_empty()).then_some(())?;
            t("ebs_storage", v.to_string(), "gb-month")
        }
        "System Operation" if s(a, "servicecode") == "AmazonEC2" => {
            match (s(a, "group"), s(a, "volumeApiName")) {
                ("EBS IOPS", v @ ("io1" | "io2")) => t("ebs_iops", v.to_string(), "iops-month"),
                ("EBS IOPS", "gp3") => t("ebs_iops", "gp3".into(), "iops-month-over-3000"),
                ("EBS Throughput", "gp3") => {
                    t("ebs_throughput", "gp3".into(), "mbps-month-over-125")
                }
                _ => None,
            }
        }
        "NAT Gateway" if usage.ends_with("NatGateway-Hours") => {
            t("nat_gateway", "hourly".into(), "hour")
        }
        "NAT Gateway" if usage.ends_with("NatGateway-Bytes") => {
            t("nat_gateway", "data_processed".into(), "gb")
        }
        "Load Balancer-Application" | "Load Balancer-Network" => {
            let kind = if family.ends_with("Application") {
                "application"
            } else {
                "network"
            };
            if usage.ends_with("LoadBalancerUsage") {
                t("load_balancer", kind.into(), "hour")
            } else if usage.ends_with("LCUUsage") {
                t("load_balancer", format!("{kind}_lcu"), "lcu-hour")
            } else {
                None
            }
        }
        "Database Instance" => {
            let engine = match s(a, "databaseEngine") {
                "MySQL" => "mysql",
                "PostgreSQL" => "postgres",
                "MariaDB" => "mariadb",
                _ => return None,
            };
            (s(a, "licenseModel") == "No License required").then_some(())?;
            let az = deployment(a)?;
            t(
                "rds_instance",
                format!("{}/{engine}/{az}", s(a, "instanceType")),
                "hour",
            )
        }
        "Database Storage" => {
            let volume = match s(a, "volumeType") {
                "General Purpose" => "gp2",
                "General Purpose-GP3" => "gp3",
                "Provisioned IOPS" => "io1",
                "Magnetic" => "standard",
                _ => return None,
            };
            matches!(
                s(a, "databaseEngine"),
                "Any" | "MySQL" | "PostgreSQL" | "MariaDB"
            )
            .then_some(())?;
            let az = deployment(a)?;
            t("rds_storage", format!("{volume}/{az}"), "gb-month")
        }
        "Storage" if s(a, "servicecode") == "AmazonS3" => {
            (s(a, "storageClass") == "General Purpose" && s(a, "volumeType") == "Standard")
                .then_some(())?;
            t("s3", "storage_standard".into(), "gb-month")
        }
        "API Request" if s(a, "servicecode") == "AmazonS3" => {
            let key = match s(a, "group") {
                "S3-API-Tier1" => "put_requests",
                "S3-API-Tier2" => "get_requests",
                _ => return None,
            };
            Some(Target {
                table: "s3",
                key: key.into(),
                unit: "1k-requests",
                scale: 1000.0,
            })
        }
        _ => None,
    }
}

fn deployment(a: &Value) -> Option<&'static str> {
    match s(a, "deploymentOption") {
        "Single-AZ" => Some("single-az"),
        "Multi-AZ" => Some("multi-az"),
        _ => None,
    }
}

/// The product's region code. Local Zones, Wavelength Zones and Outposts
/// carry their own codes (`us-east-1-bos-1`) inside a region's file; no
/// provider region names them, so they are left out rather than grow the
/// book with zones nobody plans in.
fn region(a: &Value) -> Option<String> {
    let kind = s(a, "locationType");
    if !kind.is_empty() && kind != "AWS Region" {
        return None;
    }
    let code = s(a, "regionCode");
    if !code.is_empty() {
        return Some(code.to_string());
    }
    let location = s(a, "location");
    LOCATIONS
        .iter()
        .find(|(name, _)| *name == location)
        .map(|(_, code)| code.to_string())
}

/// `"8 GiB"` as 8.
fn gib(text: &str) -> Option<f64> {
    text.trim_end_matches("GiB")
        .trim()
        .replace(',', "")
        .parse()
        .ok()
}

/// The on-demand price of a SKU: its one price dimension, or the tier that
/// begins at zero. A term with lease attributes is a reservation filed under
/// the wrong key and is never read as on-demand; an hourly row must be
/// priced in hours.
fn on_demand(terms: &Value, sku: &str, unit: &str) -> Option<(f64, String)> {
    let offers = terms.get("OnDemand")?.get(sku)?.as_object()?;
    for (term_code, offer) in offers {
        let leased = offer
            .get("termAttributes")
            .and_then(Value::as_object)
            .is_some_and(|a| !a.is_empty());
        if leased {
            continue;
        }
        let dims = offer.get("priceDimensions")?.as_object()?;
        let dim = if dims.len() == 1 {
            dims.values().next()
        } else {
            dims.values()
                .find(|d| matches!(s(d, "beginRange"), "0" | "0.0"))
        }?;
        if unit == "hour" && s(dim, "unit") != "Hrs" {
            continue;
        }
        let usd: f64 = dim
            .get("pricePerUnit")?
            .get("USD")?
            .as_str()?
            .parse()
            .ok()?;
        let rate_code = s(dim, "rateCode");
        let id = if rate_code.is_empty() {
            term_code.clone()
        } else {
            rate_code.to_string()
        };
        return Some((usd, id));
    }
    None
}

pub(super) fn parse(file: &str, json: &Value) -> Result<Imported, ImportError> {
    let format_err = |message: &str| ImportError::Format {
        file: file.to_string(),
        message: message.to_string(),
    };
    let offer = s(json, "offerCode");
    if offer.is_empty() {
        return Err(format_err("no `offerCode`: not an AWS offer file"));
    }
    let products = json
        .get("products")
        .and_then(Value::as_object)
        .ok_or_else(|| format_err("no `products` object"))?;
    let terms = json
        .get("terms")
        .ok_or_else(|| format_err("no `terms` object"))?;
    let published = s(json, "publicationDate");
    let taken = published.get(..10).unwrap_or("").to_string();
    if chrono::NaiveDate::parse_from_str(&taken, "%Y-%m-%d").is_err() {
        return Err(format_err("`publicationDate` is not a date"));
    }
    let version = s(json, "version");
    let mut out = Imported {
        list: format!("AWS Price List Bulk API offer file {offer} version {version}"),
        url: format!(
            "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/{version}/index.json"
        ),
        index_url: "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/index.json",
        taken,
        rows: Vec::new(),
        skipped: Vec::new(),
    };
    for (sku, product) in products {
        let family = s(product, "productFamily");
        let attrs = product.get("attributes").unwrap_or(&Value::Null);
        let Some(target) = target(family, attrs) else {
            continue;
        };
        let Some(region) = region(attrs) else {
            out.skipped.push(format!(
                "{sku}: location `{}` ({}) is not a region",
                s(attrs, "location"),
                s(attrs, "locationType")
            ));
            continue;
        };
        let Some((usd, rate_code)) = on_demand(terms, sku, target.unit) else {
            out.skipped.push(format!("{sku}: no on-demand price"));
            continue;
        };
        let is_machine = matches!(target.table, "ec2_instance" | "rds_instance");
        out.rows.push(Row {
            table: target.table.into(),
            key: target.key,
            region,
            usd: usd * target.scale,
            unit: target.unit.into(),
            sku: rate_code,
            vcpu: is_machine.then(|| s(attrs, "vcpu").parse().ok()).flatten(),
            memory_gib: is_machine.then(|| gib(s(attrs, "memory"))).flatten(),
        });
    }
    Ok(out)
}
