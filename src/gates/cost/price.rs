//! Prices one side (before or after) of one resource change from the price
//! book: which attributes matter for each type, and how they turn into
//! monthly amounts (hourly x 730).
//!
//! A side is never silently $0: what cannot be priced (a type missing from
//! the book, an attribute known only after apply, usage not given) is
//! recorded as a gap with its reason, while the parts that can be priced
//! (a NAT gateway's hours) still count.

use serde::Serialize;
use serde_json::Value;

use super::book::{book, translate_region, Book, Provider};
use super::usage::Usage;

/// Hours in a month, as every public cloud calculator counts them.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// One priced component of a resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub what: String,
    pub quantity: f64,
    pub unit: String,
    /// USD per unit.
    pub rate: f64,
    pub monthly: f64,
    /// The price list the rate comes from, and its date.
    pub source: String,
}

/// Why part of a resource could not be priced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub reason: String,
    /// The gap closes with usage data (`--usage FILE`).
    pub usage: bool,
}

/// What one side of a resource costs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SideCost {
    /// Sum of `lines`: the part that could be priced.
    pub monthly: f64,
    pub lines: Vec<Line>,
    pub gaps: Vec<Gap>,
    /// The type has usage-based components.
    pub usage_based: bool,
    /// The type is free by itself.
    pub free: bool,
    pub region: Option<String>,
    /// Documented provider defaults used for values the plan does not know.
    pub assumptions: Vec<String>,
}

/// Where a side's region comes from when its attributes name none.
pub struct RegionHints<'a> {
    pub provider_config: &'a Value,
    pub default_region: Option<&'a str>,
}

/// The usage keys a type reads, for checking usage files.
pub fn usage_keys(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "aws_nat_gateway" | "aws_vpc_endpoint" => &["monthly_data_processed_gb"],
        "aws_lb" | "aws_alb" => &["average_lcus"],
        "aws_lambda_function" => &["monthly_requests", "average_duration_ms"],
        "aws_s3_bucket" => &["storage_gb", "monthly_put_requests", "monthly_get_requests"],
        "aws_cloudwatch_log_group" => &["monthly_ingested_gb", "storage_gb"],
        "aws_dynamodb_table" => &[
            "monthly_read_request_units",
            "monthly_write_request_units",
            "storage_gb",
        ],
        "aws_kms_key" => &["monthly_requests"],
        "aws_route53_zone" => &["monthly_queries"],
        "aws_secretsmanager_secret" => &["monthly_api_calls"],
        "google_storage_bucket" => &["storage_gb"],
        _ => &[],
    }
}

/// Prices one side of one resource.
pub fn price_side(
    resource_type: &str,
    address: &str,
    values: &Value,
    unknown: &Value,
    hints: &RegionHints,
    usage: &Usage,
) -> SideCost {
    let Some(provider) = Provider::of_type(resource_type) else {
        return not_priced(format!("`{resource_type}` is not priced"));
    };
    let book = book(provider);
    if book.is_free(resource_type) {
        return SideCost {
            free: true,
            ..SideCost::default()
        };
    }
    let Some(pricer) = pricer(resource_type) else {
        return not_priced(format!("`{resource_type}` is not priced"));
    };
    let region = region_of(provider, values, hints, book);
    let mut p = Pricer {
        book,
        region,
        values,
        unknown,
        usage,
        address,
        resource_type,
        out: SideCost::default(),
    };
    if let Err(Stop(reason)) = pricer(&mut p) {
        p.out.gaps.push(Gap {
            reason,
            usage: false,
        });
    }
    p.out.region = Some(p.region);
    p.out.usage_based |= !usage_keys(resource_type).is_empty();
    p.out.monthly = p.out.lines.iter().map(|l| l.monthly).sum();
    p.out
}

fn not_priced(reason: String) -> SideCost {
    SideCost {
        gaps: vec![Gap {
            reason,
            usage: false,
        }],
        ..SideCost::default()
    }
}

/// Pricing stops for this resource, for the reason given.
struct Stop(String);

type PriceFn = fn(&mut Pricer) -> Result<(), Stop>;

fn pricer(resource_type: &str) -> Option<PriceFn> {
    Some(match resource_type {
        "aws_instance" => aws_instance,
        "aws_ebs_volume" => aws_ebs_volume,
        "aws_db_instance" => aws_db_instance,
        "aws_rds_cluster_instance" => aws_rds_cluster_instance,
        "aws_nat_gateway" => aws_nat_gateway,
        "aws_lb" | "aws_alb" => aws_lb,
        "aws_eks_cluster" => |p| p.charge("eks_cluster", "standard", 1.0, "cluster"),
        "aws_eks_node_group" => aws_eks_node_group,
        "aws_elasticache_cluster" => aws_elasticache_cluster,
        "aws_elasticache_replication_group" => aws_elasticache_replication_group,
        "aws_lambda_function" => aws_lambda_function,
        "aws_s3_bucket" => aws_s3_bucket,
        "aws_cloudwatch_log_group" => aws_cloudwatch_log_group,
        "aws_dynamodb_table" => aws_dynamodb_table,
        "aws_eip" => |p| p.charge("public_ipv4", "address", 1.0, "public IPv4 address"),
        "aws_kms_key" => aws_kms_key,
        "aws_route53_zone" => aws_route53_zone,
        "aws_secretsmanager_secret" => aws_secretsmanager_secret,
        "aws_vpc_endpoint" => aws_vpc_endpoint,
        "google_compute_instance" => google_compute_instance,
        "google_compute_disk" => google_compute_disk,
        "google_sql_database_instance" => google_sql_database_instance,
        "google_container_cluster" => {
            |p| p.charge("container_cluster", "management", 1.0, "cluster management")
        }
        "google_storage_bucket" => google_storage_bucket,
        "azurerm_linux_virtual_machine" => |p| azure_vm(p, "vm_linux"),
        "azurerm_windows_virtual_machine" => |p| azure_vm(p, "vm_windows"),
        "azurerm_managed_disk" => azurerm_managed_disk,
        "azurerm_postgresql_flexible_server" => azurerm_postgresql_flexible_server,
        "azurerm_mssql_database" => azurerm_mssql_database,
        "azurerm_kubernetes_cluster" => azurerm_kubernetes_cluster,
        _ => return None,
    })
}

/// The resource types the book prices (beyond free ones), for coverage.
pub fn priced_types() -> Vec<&'static str> {
    [
        "aws_instance",
        "aws_ebs_volume",
        "aws_db_instance",
        "aws_rds_cluster_instance",
        "aws_nat_gateway",
        "aws_lb",
        "aws_alb",
        "aws_eks_cluster",
        "aws_eks_node_group",
        "aws_elasticache_cluster",
        "aws_elasticache_replication_group",
        "aws_lambda_function",
        "aws_s3_bucket",
        "aws_cloudwatch_log_group",
        "aws_dynamodb_table",
        "aws_eip",
        "aws_kms_key",
        "aws_route53_zone",
        "aws_secretsmanager_secret",
        "aws_vpc_endpoint",
        "google_compute_instance",
        "google_compute_disk",
        "google_sql_database_instance",
        "google_container_cluster",
        "google_storage_bucket",
        "azurerm_linux_virtual_machine",
        "azurerm_windows_virtual_machine",
        "azurerm_managed_disk",
        "azurerm_postgresql_flexible_server",
        "azurerm_mssql_database",
        "azurerm_kubernetes_cluster",
    ]
    .into_iter()
    .filter(|t| pricer(t).is_some())
    .collect()
}

fn region_of(provider: Provider, values: &Value, hints: &RegionHints, book: &Book) -> String {
    let attr = |k: &str| {
        values
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let from_values = match provider {
        Provider::Aws => attr("region").map(str::to_string).or_else(|| {
            attr("availability_zone").map(|az| az.trim_end_matches(char::is_alphabetic).to_string())
        }),
        Provider::Google => attr("region")
            .map(str::to_string)
            .or_else(|| {
                attr("zone")
                    .and_then(|z| z.rsplit_once('-'))
                    .map(|(r, _)| r.to_string())
            })
            .or_else(|| attr("location").map(str::to_lowercase)),
        Provider::Azure => attr("location").map(|l| l.to_lowercase().replace(' ', "")),
    };
    let from_config = || {
        let exprs = hints
            .provider_config
            .get(provider.config_key())?
            .get("expressions")?;
        let constant = |k: &str| {
            exprs
                .get(k)?
                .get("constant_value")?
                .as_str()
                .map(str::to_string)
        };
        constant("region").or_else(|| {
            constant("zone").and_then(|z| z.rsplit_once('-').map(|(r, _)| r.to_string()))
        })
    };
    from_values
        .or_else(from_config)
        .or_else(|| hints.default_region.map(|r| translate_region(provider, r)))
        .unwrap_or_else(|| book.regions[0].clone())
}

struct Pricer<'a> {
    book: &'static Book,
    region: String,
    values: &'a Value,
    unknown: &'a Value,
    usage: &'a Usage,
    address: &'a str,
    resource_type: &'a str,
    out: SideCost,
}

impl<'a> Pricer<'a> {
    /// An attribute by dotted path (`root_block_device.0.volume_size`);
    /// stops when the attribute is known only after apply.
    fn attr(&self, path: &str) -> Result<Option<&'a Value>, Stop> {
        let mut value = Some(self.values);
        let mut unknown = Some(self.unknown);
        for seg in path.split('.') {
            if unknown == Some(&Value::Bool(true)) {
                return Err(Stop(format!("`{path}` is known only after apply")));
            }
            let step = |v: &'a Value| match seg.parse::<usize>() {
                Ok(i) => v.get(i),
                Err(_) => v.get(seg),
            };
            value = value.and_then(step);
            unknown = unknown.and_then(step);
        }
        if unknown == Some(&Value::Bool(true)) {
            return Err(Stop(format!("`{path}` is known only after apply")));
        }
        Ok(value.filter(|v| !v.is_null()))
    }

    fn str_attr(&self, path: &str) -> Result<Option<&'a str>, Stop> {
        Ok(self.attr(path)?.and_then(Value::as_str))
    }

    fn num_attr(&self, path: &str) -> Result<Option<f64>, Stop> {
        Ok(self.attr(path)?.and_then(Value::as_f64))
    }

    fn required_str(&self, path: &str) -> Result<&'a str, Stop> {
        self.str_attr(path)?
            .ok_or_else(|| Stop(format!("`{path}` is not set")))
    }

    fn rate(&self, table: &str, key: &str) -> Result<(f64, String), Stop> {
        let rate = self
            .book
            .rate(table, key)
            .ok_or_else(|| Stop(format!("`{key}` is not in the price book")))?;
        let usd = rate.in_region(&self.region).ok_or_else(|| {
            Stop(format!(
                "no published price for {} in {} in the price book",
                display_key(key),
                self.region
            ))
        })?;
        Ok((usd, rate.unit.clone()))
    }

    /// The price list a rate was read from, as "list (date)", and the
    /// list's SKU for this region when the row has one.
    fn source(&self, table: &str, key: &str) -> String {
        let Some(rate) = self.book.rate(table, key) else {
            return String::new();
        };
        let Some(p) = self.book.provenance.get(&rate.from) else {
            return String::new();
        };
        match rate.sku.get(&self.region) {
            Some(sku) => format!("{} ({}), SKU {sku}", p.list, p.taken),
            None => format!("{} ({})", p.list, p.taken),
        }
    }

    /// A fixed charge: `quantity` units at the book's rate; hourly units are
    /// turned into a month of 730 hours.
    fn charge(&mut self, table: &str, key: &str, quantity: f64, what: &str) -> Result<(), Stop> {
        let (rate, unit) = self.rate(table, key)?;
        let hours = if unit == "hour" || unit.ends_with("-hour") {
            HOURS_PER_MONTH
        } else {
            1.0
        };
        self.out.lines.push(Line {
            what: what.to_string(),
            quantity: quantity * hours,
            unit,
            rate,
            monthly: quantity * hours * rate,
            source: self.source(table, key),
        });
        Ok(())
    }

    /// A usage charge: the quantity comes from the usage file; without it the
    /// component is a gap that says what it would cost per unit.
    fn usage_charge(
        &mut self,
        usage_key: &str,
        table: &str,
        key: &str,
        what: &str,
    ) -> Result<(), Stop> {
        self.out.usage_based = true;
        let (rate, unit) = self.rate(table, key)?;
        let divisor = if unit.starts_with("1m-") {
            1e6
        } else if unit.starts_with("10k-") {
            1e4
        } else if unit.starts_with("1k-") {
            1e3
        } else {
            1.0
        };
        match self.usage.get(self.address, self.resource_type, usage_key) {
            Some(amount) => {
                self.out.lines.push(Line {
                    what: what.to_string(),
                    quantity: amount / divisor,
                    unit,
                    rate,
                    monthly: amount / divisor * rate,
                    source: self.source(table, key),
                });
            }
            None => self.out.gaps.push(Gap {
                reason: format!(
                    "{what} depends on usage: ${} per {} (usage key `{usage_key}`)",
                    trim_rate(rate),
                    unit_words(&unit)
                ),
                usage: true,
            }),
        }
        Ok(())
    }

    fn gap(&mut self, reason: String) {
        self.out.gaps.push(Gap {
            reason,
            usage: false,
        });
    }

    /// An EBS volume (standalone, root or additional block device).
    fn ebs(&mut self, prefix: &str, default_type: &str, what: &str) -> Result<(), Stop> {
        let at = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        let size_key = if prefix.is_empty() {
            "size"
        } else {
            "volume_size"
        };
        let type_key = if prefix.is_empty() {
            "type"
        } else {
            "volume_type"
        };
        let Some(size) = self.num_attr(&at(size_key))? else {
            return Err(Stop(format!("{what}: `{}` is not set", at(size_key))));
        };
        let vtype = self.str_attr(&at(type_key))?.unwrap_or(default_type);
        self.charge(
            "ebs_storage",
            vtype,
            size,
            &format!("{what} ({vtype}, {size} GB)"),
        )?;
        let iops = self.num_attr(&at("iops"))?.unwrap_or(0.0);
        match vtype {
            "gp3" => {
                if iops > 3000.0 {
                    self.charge(
                        "ebs_iops",
                        "gp3",
                        iops - 3000.0,
                        &format!("{what} IOPS over 3000"),
                    )?;
                }
                let tput = self.num_attr(&at("throughput"))?.unwrap_or(125.0);
                if tput > 125.0 {
                    self.charge(
                        "ebs_throughput",
                        "gp3",
                        tput - 125.0,
                        &format!("{what} throughput over 125 MB/s"),
                    )?;
                }
            }
            "io1" | "io2" if iops > 0.0 => {
                self.charge("ebs_iops", vtype, iops, &format!("{what} provisioned IOPS"))?
            }
            _ => {}
        }
        Ok(())
    }
}

/// `db.t3.micro/mysql/single-az` as `db.t3.micro (mysql, single-az)`.
fn display_key(key: &str) -> String {
    match key.split_once('/') {
        Some((head, rest)) => format!("{head} ({})", rest.replace('/', ", ")),
        None => key.to_string(),
    }
}

fn trim_rate(rate: f64) -> String {
    let s = format!("{rate:.7}");
    let s = s.trim_end_matches('0');
    let s = s.trim_end_matches('.');
    // Keep cents visible: $0.5 reads oddly for a price.
    match s.split_once('.') {
        Some((_, frac)) if frac.len() == 1 => format!("{s}0"),
        None => format!("{s}.00"),
        _ => s.to_string(),
    }
}

fn unit_words(unit: &str) -> String {
    match unit {
        "gb" => "GB".into(),
        "gb-month" => "GB-month".into(),
        "gb-second" => "GB-second".into(),
        "1m-requests" => "million requests".into(),
        "10k-requests" => "10,000 requests".into(),
        "1k-requests" => "1,000 requests".into(),
        "lcu-hour" => "LCU-hour".into(),
        other => other.to_string(),
    }
}

/// Root volume size assumed when the plan does not know it.
const DEFAULT_ROOT_GB: f64 = 8.0;

fn aws_instance(p: &mut Pricer) -> Result<(), Stop> {
    let itype = p.required_str("instance_type")?;
    p.charge("ec2_instance", itype, 1.0, &format!("instance {itype}"))?;
    // The AMI decides an unset root volume; 8 GB gp2 is the documented
    // default root volume (and what Infracost assumes), so it is priced as
    // that, with the assumption named.
    let before = p.out.lines.len();
    let root = match p.attr("root_block_device.0") {
        Ok(Some(_)) => p.ebs("root_block_device.0", "gp2", "root volume"),
        Ok(None) => Err(Stop("not set".into())),
        Err(stop) => Err(stop),
    };
    if let Err(Stop(reason)) = root {
        p.out.lines.truncate(before);
        if reason.contains("known only after apply") || reason.contains("not set") {
            p.out.assumptions.push(format!(
                "root volume assumed {DEFAULT_ROOT_GB} GB gp2 (the default root volume; its size comes from the AMI)"
            ));
            p.charge(
                "ebs_storage",
                "gp2",
                DEFAULT_ROOT_GB,
                &format!("root volume (gp2, {DEFAULT_ROOT_GB} GB, assumed)"),
            )?;
        } else {
            p.gap(reason);
        }
    }
    // A wholly unknown `ebs_block_device` is the provider computing an empty
    // list: a block the configuration declares shows up with its known
    // attributes, so there is nothing more to price.
    let devices = match p.attr("ebs_block_device") {
        Ok(v) => v.and_then(Value::as_array).map_or(0, Vec::len),
        Err(_) => 0,
    };
    for i in 0..devices {
        if let Err(Stop(reason)) = p.ebs(&format!("ebs_block_device.{i}"), "gp2", "EBS volume") {
            p.gap(reason);
        }
    }
    Ok(())
}

fn aws_ebs_volume(p: &mut Pricer) -> Result<(), Stop> {
    p.ebs("", "gp2", "volume")
}

fn aws_db_instance(p: &mut Pricer) -> Result<(), Stop> {
    let class = p.required_str("instance_class")?;
    let engine = p.required_str("engine")?;
    let az = if p.attr("multi_az")?.and_then(Value::as_bool) == Some(true) {
        "multi-az"
    } else {
        "single-az"
    };
    p.charge(
        "rds_instance",
        &format!("{class}/{engine}/{az}"),
        1.0,
        &format!("{class} {engine} {az}"),
    )?;
    // The provider documents gp2 as the storage type when none is given.
    let storage_type = match p.str_attr("storage_type") {
        Ok(Some(s)) => s,
        Ok(None) | Err(_) => {
            p.out
                .assumptions
                .push("storage_type assumed gp2 (the provider's default)".into());
            "gp2"
        }
    };
    let storage_table_key = if storage_type == "io2" {
        "io1"
    } else {
        storage_type
    };
    if let Some(gb) = p.num_attr("allocated_storage")? {
        p.charge(
            "rds_storage",
            &format!("{storage_table_key}/{az}"),
            gb,
            &format!("storage ({storage_type}, {gb} GB)"),
        )?;
    } else {
        p.gap("`allocated_storage` is not set".into());
    }
    if matches!(storage_type, "io1" | "io2") {
        if let Some(iops) = p.num_attr("iops")? {
            p.charge("rds_iops", &format!("io1/{az}"), iops, "provisioned IOPS")?;
        }
    }
    rds_extended_support(p, class, engine, az)
}

/// Engine versions past standard support, which AWS bills Extended Support
/// for (AWS's RDS Extended Support page: MySQL 5.7 from March 2024,
/// PostgreSQL 11 from March 2024 and 12 from March 2025).
const EXTENDED_SUPPORT: [(&str, &str); 3] =
    [("mysql", "5.7"), ("postgres", "11"), ("postgres", "12")];

fn rds_extended_support(p: &mut Pricer, class: &str, engine: &str, az: &str) -> Result<(), Stop> {
    let Some(version) = p.str_attr("engine_version").ok().flatten() else {
        return Ok(());
    };
    let Some((_, major)) = EXTENDED_SUPPORT.iter().find(|(e, major)| {
        *e == engine && (version == *major || version.starts_with(&format!("{major}.")))
    }) else {
        return Ok(());
    };
    let vcpu = p
        .book
        .rate("rds_instance", &format!("{class}/{engine}/{az}"))
        .and_then(|r| r.vcpu)
        .ok_or_else(|| {
            Stop(format!(
                "the vCPU count of {class} is not in the price book"
            ))
        })?;
    let instances = if az == "multi-az" { 2.0 } else { 1.0 };
    match p.rate("rds_extended_support", &format!("{engine}/year1-2")) {
        Ok(_) => {
            p.out.assumptions.push(format!(
                "{engine} {major} is past standard support: Extended Support at the year 1-2 rate (later years cost more)"
            ));
            p.charge(
                "rds_extended_support",
                &format!("{engine}/year1-2"),
                vcpu * instances,
                &format!(
                    "Extended Support ({engine} {major}, {} vCPU)",
                    vcpu * instances
                ),
            )
        }
        Err(Stop(reason)) => {
            p.gap(format!(
                "{engine} {major} is past standard support and AWS bills Extended Support per vCPU-hour: {reason}"
            ));
            Ok(())
        }
    }
}

fn aws_rds_cluster_instance(p: &mut Pricer) -> Result<(), Stop> {
    let class = p.required_str("instance_class")?;
    let engine = match p.required_str("engine")? {
        "aurora" => "aurora-mysql",
        e => e,
    };
    p.charge(
        "aurora_instance",
        &format!("{class}/{engine}"),
        1.0,
        &format!("{class} {engine}"),
    )?;
    p.gap("Aurora storage and I/O are billed on the cluster, by usage".into());
    Ok(())
}

fn aws_nat_gateway(p: &mut Pricer) -> Result<(), Stop> {
    p.charge("nat_gateway", "hourly", 1.0, "NAT gateway hours")?;
    p.usage_charge(
        "monthly_data_processed_gb",
        "nat_gateway",
        "data_processed",
        "data processed",
    )
}

fn aws_lb(p: &mut Pricer) -> Result<(), Stop> {
    let kind = p.str_attr("load_balancer_type")?.unwrap_or("application");
    p.charge(
        "load_balancer",
        kind,
        1.0,
        &format!("{kind} load balancer hours"),
    )?;
    let lcu = format!("{kind}_lcu");
    let (rate, _) = p.rate("load_balancer", &lcu)?;
    match p.usage.get(p.address, p.resource_type, "average_lcus") {
        Some(lcus) => {
            p.out.usage_based = true;
            p.charge("load_balancer", &lcu, lcus, "capacity units")?;
        }
        None => {
            p.out.usage_based = true;
            p.out.gaps.push(Gap {
                reason: format!(
                    "capacity units depend on usage: ${} per LCU-hour (usage key `average_lcus`)",
                    trim_rate(rate)
                ),
                usage: true,
            });
        }
    }
    Ok(())
}

fn aws_eks_node_group(p: &mut Pricer) -> Result<(), Stop> {
    let itype = match p.attr("instance_types")? {
        Some(Value::Array(types)) if !types.is_empty() => {
            types[0].as_str().unwrap_or("t3.medium").to_string()
        }
        _ => "t3.medium".to_string(),
    };
    let nodes = p
        .num_attr("scaling_config.0.desired_size")?
        .ok_or_else(|| Stop("`scaling_config.0.desired_size` is not set".into()))?;
    p.charge(
        "ec2_instance",
        &itype,
        nodes,
        &format!("{nodes} x {itype} nodes"),
    )?;
    // EKS gives each node a 20 GB gp2 disk unless told otherwise.
    let disk = p.num_attr("disk_size")?.unwrap_or(20.0);
    p.charge("ebs_storage", "gp2", disk * nodes, "node disks (gp2)")
}

fn aws_elasticache_cluster(p: &mut Pricer) -> Result<(), Stop> {
    let node = p.required_str("node_type")?;
    let count = p.num_attr("num_cache_nodes")?.unwrap_or(1.0);
    p.charge(
        "elasticache_node",
        node,
        count,
        &format!("{count} x {node}"),
    )
}

fn aws_elasticache_replication_group(p: &mut Pricer) -> Result<(), Stop> {
    let node = p.required_str("node_type")?;
    let count = match p.num_attr("num_cache_clusters")? {
        Some(n) => n,
        None => {
            let groups = p.num_attr("num_node_groups")?.unwrap_or(1.0);
            let replicas = p.num_attr("replicas_per_node_group")?.unwrap_or(0.0);
            groups * (replicas + 1.0)
        }
    };
    p.charge(
        "elasticache_node",
        node,
        count,
        &format!("{count} x {node}"),
    )
}

fn aws_lambda_function(p: &mut Pricer) -> Result<(), Stop> {
    p.usage_charge("monthly_requests", "lambda", "requests", "requests")?;
    let memory_gb = p.num_attr("memory_size")?.unwrap_or(128.0) / 1024.0;
    let requests = p.usage.get(p.address, p.resource_type, "monthly_requests");
    let duration = p
        .usage
        .get(p.address, p.resource_type, "average_duration_ms");
    let (rate, unit) = p.rate("lambda", "duration")?;
    match (requests, duration) {
        (Some(r), Some(ms)) => {
            let gb_seconds = r * ms / 1000.0 * memory_gb;
            p.out.lines.push(Line {
                what: "compute".into(),
                quantity: gb_seconds,
                unit,
                rate,
                monthly: gb_seconds * rate,
                source: p.source("lambda", "duration"),
            });
        }
        _ => p.out.gaps.push(Gap {
            reason: format!(
                "compute depends on usage: ${} per GB-second (usage keys `monthly_requests`, `average_duration_ms`)",
                trim_rate(rate)
            ),
            usage: true,
        }),
    }
    Ok(())
}

fn aws_s3_bucket(p: &mut Pricer) -> Result<(), Stop> {
    p.usage_charge("storage_gb", "s3", "storage_standard", "storage")?;
    p.usage_charge("monthly_put_requests", "s3", "put_requests", "PUT requests")?;
    p.usage_charge("monthly_get_requests", "s3", "get_requests", "GET requests")
}

fn aws_cloudwatch_log_group(p: &mut Pricer) -> Result<(), Stop> {
    p.usage_charge(
        "monthly_ingested_gb",
        "cloudwatch_logs",
        "ingestion",
        "ingestion",
    )?;
    p.usage_charge("storage_gb", "cloudwatch_logs", "storage", "storage")
}

fn aws_dynamodb_table(p: &mut Pricer) -> Result<(), Stop> {
    match p.str_attr("billing_mode")?.unwrap_or("PROVISIONED") {
        "PAY_PER_REQUEST" => {
            p.usage_charge(
                "monthly_read_request_units",
                "dynamodb",
                "read_request_units",
                "read requests",
            )?;
            p.usage_charge(
                "monthly_write_request_units",
                "dynamodb",
                "write_request_units",
                "write requests",
            )?;
        }
        _ => {
            let rcu = p.num_attr("read_capacity")?.unwrap_or(0.0);
            let wcu = p.num_attr("write_capacity")?.unwrap_or(0.0);
            p.charge(
                "dynamodb",
                "rcu",
                rcu,
                &format!("{rcu} read capacity units"),
            )?;
            p.charge(
                "dynamodb",
                "wcu",
                wcu,
                &format!("{wcu} write capacity units"),
            )?;
        }
    }
    p.usage_charge("storage_gb", "dynamodb", "storage", "storage")
}

fn aws_kms_key(p: &mut Pricer) -> Result<(), Stop> {
    p.charge("kms", "key", 1.0, "key")?;
    p.usage_charge("monthly_requests", "kms", "requests", "requests")
}

fn aws_route53_zone(p: &mut Pricer) -> Result<(), Stop> {
    p.charge("route53", "hosted_zone", 1.0, "hosted zone")?;
    p.usage_charge("monthly_queries", "route53", "queries", "queries")
}

fn aws_secretsmanager_secret(p: &mut Pricer) -> Result<(), Stop> {
    p.charge("secretsmanager", "secret", 1.0, "secret")?;
    p.usage_charge(
        "monthly_api_calls",
        "secretsmanager",
        "api_calls",
        "API calls",
    )
}

fn aws_vpc_endpoint(p: &mut Pricer) -> Result<(), Stop> {
    // Gateway endpoints (S3, DynamoDB) are free; interface endpoints bill per AZ.
    if p.str_attr("vpc_endpoint_type")?.unwrap_or("Gateway") == "Gateway" {
        p.out.free = true;
        return Ok(());
    }
    let azs = p
        .attr("subnet_ids")?
        .and_then(Value::as_array)
        .map_or(1, |s| s.len().max(1)) as f64;
    p.charge(
        "vpc_endpoint",
        "interface_per_az",
        azs,
        &format!("interface endpoint in {azs} AZ(s)"),
    )?;
    p.usage_charge(
        "monthly_data_processed_gb",
        "vpc_endpoint",
        "data_processed",
        "data processed",
    )
}

fn google_compute_instance(p: &mut Pricer) -> Result<(), Stop> {
    let mtype = p.required_str("machine_type")?;
    p.charge("compute_instance", mtype, 1.0, &format!("instance {mtype}"))?;
    let size = match p.num_attr("boot_disk.0.initialize_params.0.size") {
        Ok(s) => s,
        Err(Stop(reason)) => {
            p.gap(format!("boot disk: {reason}"));
            return Ok(());
        }
    };
    match size {
        Some(gb) => {
            let dtype = p
                .str_attr("boot_disk.0.initialize_params.0.type")?
                .unwrap_or("pd-standard");
            p.charge(
                "compute_disk",
                dtype,
                gb,
                &format!("boot disk ({dtype}, {gb} GB)"),
            )?;
        }
        None => p.gap("boot disk size comes from the image, known only after apply".into()),
    }
    Ok(())
}

fn google_compute_disk(p: &mut Pricer) -> Result<(), Stop> {
    let dtype = p.str_attr("type")?.unwrap_or("pd-standard");
    let gb = p
        .num_attr("size")?
        .ok_or_else(|| Stop("`size` is not set".into()))?;
    p.charge(
        "compute_disk",
        dtype,
        gb,
        &format!("disk ({dtype}, {gb} GB)"),
    )
}

fn google_sql_database_instance(p: &mut Pricer) -> Result<(), Stop> {
    let tier = p.required_str("settings.0.tier")?;
    let ha = if p.str_attr("settings.0.availability_type")? == Some("REGIONAL") {
        2.0
    } else {
        1.0
    };
    if let Some(spec) = tier.strip_prefix("db-custom-") {
        let (cpu, mem) = spec
            .split_once('-')
            .and_then(|(c, m)| Some((c.parse::<f64>().ok()?, m.parse::<f64>().ok()?)))
            .ok_or_else(|| Stop(format!("tier `{tier}` is not in the price book")))?;
        p.charge("sql_tier", "vcpu", cpu * ha, &format!("{cpu} vCPU"))?;
        p.charge(
            "sql_tier",
            "memory",
            mem / 1024.0 * ha,
            &format!("{} GB memory", mem / 1024.0),
        )?;
    } else {
        p.charge("sql_tier", tier, ha, &format!("tier {tier}"))?;
    }
    let gb = p.num_attr("settings.0.disk_size")?.unwrap_or(10.0);
    let dtype = p.str_attr("settings.0.disk_type")?.unwrap_or("PD_SSD");
    p.charge(
        "sql_storage",
        dtype,
        gb * ha,
        &format!("storage ({dtype}, {gb} GB)"),
    )
}

fn google_storage_bucket(p: &mut Pricer) -> Result<(), Stop> {
    let class = p.str_attr("storage_class")?.unwrap_or("STANDARD");
    let class = if class == "REGIONAL" || class == "MULTI_REGIONAL" {
        "STANDARD"
    } else {
        class
    };
    p.usage_charge("storage_gb", "storage", class, "storage")
}

fn azure_vm(p: &mut Pricer, table: &str) -> Result<(), Stop> {
    let size = p.required_str("size")?;
    p.charge(table, size, 1.0, &format!("VM {size}"))?;
    azure_disk_at(p, "os_disk.0", "OS disk")
}

fn azure_disk_at(p: &mut Pricer, prefix: &str, what: &str) -> Result<(), Stop> {
    let (sku_key, size_key) = if prefix.is_empty() {
        (
            "storage_account_type".to_string(),
            "disk_size_gb".to_string(),
        )
    } else {
        (
            format!("{prefix}.storage_account_type"),
            format!("{prefix}.disk_size_gb"),
        )
    };
    let sku = match p.str_attr(&sku_key) {
        Ok(Some(s)) => s,
        Ok(None) => {
            p.gap(format!("{what}: `{sku_key}` is not set"));
            return Ok(());
        }
        Err(Stop(r)) => {
            p.gap(format!("{what}: {r}"));
            return Ok(());
        }
    };
    let size = match p.num_attr(&size_key) {
        Ok(Some(s)) => s,
        Ok(None) => {
            p.gap(format!(
                "{what}: size comes from the image, known only after apply"
            ));
            return Ok(());
        }
        Err(Stop(r)) => {
            p.gap(format!("{what}: {r}"));
            return Ok(());
        }
    };
    // Managed disks bill by tier: the smallest tier that holds the size.
    let tier = [32, 64, 128, 256, 512, 1024, 2048, 4096]
        .into_iter()
        .find(|t| f64::from(*t) >= size)
        .ok_or_else(|| {
            Stop(format!(
                "{what}: {size} GB is beyond the tiers in the price book"
            ))
        })?;
    p.charge(
        "managed_disk",
        &format!("{sku}/{tier}"),
        1.0,
        &format!("{what} ({sku}, {tier} GB tier)"),
    )
}

fn azurerm_managed_disk(p: &mut Pricer) -> Result<(), Stop> {
    azure_disk_at(p, "", "disk")
}

fn azurerm_postgresql_flexible_server(p: &mut Pricer) -> Result<(), Stop> {
    let sku = p.required_str("sku_name")?;
    let ha = match p.attr("high_availability")? {
        Some(Value::Array(a)) if !a.is_empty() => 2.0,
        _ => 1.0,
    };
    p.charge("postgresql_flexible", sku, ha, &format!("server {sku}"))?;
    let gb = p.num_attr("storage_mb")?.unwrap_or(32768.0) / 1024.0;
    p.charge(
        "postgresql_flexible",
        "storage",
        gb,
        &format!("storage ({gb} GB)"),
    )
}

fn azurerm_mssql_database(p: &mut Pricer) -> Result<(), Stop> {
    let sku = p.required_str("sku_name")?;
    p.charge("mssql_database", sku, 1.0, &format!("database {sku}"))
}

fn azurerm_kubernetes_cluster(p: &mut Pricer) -> Result<(), Stop> {
    let tier = p.str_attr("sku_tier")?.unwrap_or("Free");
    p.charge("kubernetes_cluster", tier, 1.0, &format!("{tier} tier"))?;
    let size = p.required_str("default_node_pool.0.vm_size")?;
    let nodes = match p.num_attr("default_node_pool.0.node_count")? {
        Some(n) => n,
        None => p
            .num_attr("default_node_pool.0.min_count")?
            .ok_or_else(|| Stop("`default_node_pool.0.node_count` is not set".into()))?,
    };
    p.charge("vm_linux", size, nodes, &format!("{nodes} x {size} nodes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn side(t: &str, values: Value) -> SideCost {
        let hints = RegionHints {
            provider_config: &Value::Null,
            default_region: Some("us-east-1"),
        };
        price_side(t, "x.y", &values, &Value::Null, &hints, &Usage::default())
    }

    #[test]
    fn gp3_extra_iops_and_throughput_are_charged_above_the_baseline() {
        let c = side(
            "aws_ebs_volume",
            json!({"type": "gp3", "size": 100, "iops": 4000, "throughput": 225, "availability_zone": "us-east-1a"}),
        );
        // 100 x 0.08 + 1000 x 0.005 + 100 x 0.04
        assert!((c.monthly - 17.0).abs() < 1e-9, "{c:?}");
    }

    #[test]
    fn multi_az_postgres_costs_twice_single_az() {
        let single = side(
            "aws_db_instance",
            json!({"instance_class": "db.t3.micro", "engine": "postgres", "allocated_storage": 20}),
        );
        let multi = side(
            "aws_db_instance",
            json!({"instance_class": "db.t3.micro", "engine": "postgres", "allocated_storage": 20, "multi_az": true}),
        );
        assert!((multi.monthly - 2.0 * single.monthly).abs() < 1e-9);
        assert!((single.monthly - (0.018 * 730.0 + 20.0 * 0.115)).abs() < 1e-9);
    }

    #[test]
    fn region_comes_from_the_availability_zone_before_the_default() {
        let c = side(
            "aws_instance",
            json!({"instance_type": "t3.micro", "availability_zone": "eu-west-1b"}),
        );
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn unknown_instance_type_stops_pricing_with_a_reason() {
        let hints = RegionHints {
            provider_config: &Value::Null,
            default_region: None,
        };
        let c = price_side(
            "aws_instance",
            "a.b",
            &json!({}),
            &json!({"instance_type": true}),
            &hints,
            &Usage::default(),
        );
        assert_eq!(c.monthly, 0.0);
        assert!(c.gaps[0].reason.contains("known only after apply"), "{c:?}");
    }

    #[test]
    fn azure_disk_bills_by_the_tier_that_holds_its_size() {
        let c = side(
            "azurerm_managed_disk",
            json!({"storage_account_type": "Premium_LRS", "disk_size_gb": 100, "location": "East US"}),
        );
        assert!((c.monthly - 19.71).abs() < 1e-9, "{c:?}");
    }

    /// One resource per pricer, with the monthly amount worked out by hand
    /// from the book's us-east-1 (or equivalent) rates.
    #[test]
    fn every_pricer_gives_the_hand_worked_amount() {
        let usage = Usage::parse(
            "types:\n  aws_lambda_function: { monthly_requests: 2000000, average_duration_ms: 100 }\n  aws_dynamodb_table: { storage_gb: 10, monthly_read_request_units: 1000000, monthly_write_request_units: 1000000 }\n  aws_lb: { average_lcus: 2 }\n  aws_s3_bucket: { storage_gb: 100, monthly_put_requests: 10000, monthly_get_requests: 100000 }\n",
            "u.yml",
        )
        .unwrap();
        let hints = RegionHints {
            provider_config: &Value::Null,
            default_region: Some("us-east-1"),
        };
        let cases: Vec<(&str, Value, f64)> = vec![
            // 0.0208 x 730 + root 10 GB gp2 x 0.10 + extra io1 50 GB x 0.125 + 1000 IOPS x 0.065
            (
                "aws_instance",
                json!({"instance_type": "t3.small", "root_block_device": [{"volume_size": 10}], "ebs_block_device": [{"volume_size": 50, "volume_type": "io1", "iops": 1000}]}),
                15.184 + 1.0 + 6.25 + 65.0,
            ),
            (
                "aws_rds_cluster_instance",
                json!({"instance_class": "db.r6g.large", "engine": "aurora-postgresql"}),
                0.26 * 730.0,
            ),
            // 0.0225 x 730 + 2 LCU x 730 x 0.008
            (
                "aws_lb",
                json!({"load_balancer_type": "application"}),
                16.425 + 11.68,
            ),
            ("aws_eks_cluster", json!({}), 73.0),
            // 3 x m5.large + 3 x 50 GB gp2
            (
                "aws_eks_node_group",
                json!({"instance_types": ["m5.large"], "scaling_config": [{"desired_size": 3}], "disk_size": 50}),
                3.0 * 70.08 + 15.0,
            ),
            (
                "aws_elasticache_cluster",
                json!({"node_type": "cache.t3.micro", "num_cache_nodes": 2}),
                2.0 * 12.41,
            ),
            (
                "aws_elasticache_replication_group",
                json!({"node_type": "cache.r6g.large", "num_node_groups": 2, "replicas_per_node_group": 1}),
                4.0 * 150.38,
            ),
            // 2M requests x 0.20/M + 2M x 0.1 s x 0.5 GB x 0.0000166667
            (
                "aws_lambda_function",
                json!({"memory_size": 512}),
                0.40 + 100_000.0 * 0.0000166667,
            ),
            // 100 GB x 0.023 + 10k PUT x 0.005/1k + 100k GET x 0.0004/1k
            ("aws_s3_bucket", json!({}), 2.30 + 0.05 + 0.04),
            // 5 RCU x 0.00013 x 730 + 5 WCU x 0.00065 x 730 + 10 GB x 0.25
            (
                "aws_dynamodb_table",
                json!({"billing_mode": "PROVISIONED", "read_capacity": 5, "write_capacity": 5}),
                0.4745 + 2.3725 + 2.5,
            ),
            (
                "aws_dynamodb_table",
                json!({"billing_mode": "PAY_PER_REQUEST"}),
                0.125 + 0.625 + 2.5,
            ),
            ("aws_eip", json!({"domain": "vpc"}), 3.65),
            (
                "aws_vpc_endpoint",
                json!({"vpc_endpoint_type": "Interface", "subnet_ids": ["a", "b"]}),
                14.6,
            ),
            (
                "google_compute_disk",
                json!({"type": "pd-ssd", "size": 100, "zone": "us-central1-a"}),
                17.0,
            ),
            // db-custom-2-7680: 2 x 0.0413 x 730 + 7.5 GB x 0.007 x 730, regional doubles; 10 GB SSD x 0.17 x 2
            (
                "google_sql_database_instance",
                json!({"region": "us-central1", "settings": [{"tier": "db-custom-2-7680", "availability_type": "REGIONAL", "disk_size": 10}]}),
                2.0 * (60.298 + 38.325) + 3.4,
            ),
            (
                "google_container_cluster",
                json!({"location": "us-central1"}),
                73.0,
            ),
            (
                "azurerm_windows_virtual_machine",
                json!({"size": "Standard_D2s_v3", "location": "eastus", "os_disk": [{"storage_account_type": "StandardSSD_LRS", "disk_size_gb": 128}]}),
                0.188 * 730.0 + 9.60,
            ),
            // GP D2s_v3 with HA: 2 x 0.178 x 730; 128 GB x 0.115
            (
                "azurerm_postgresql_flexible_server",
                json!({"sku_name": "GP_Standard_D2s_v3", "storage_mb": 131072, "high_availability": [{"mode": "ZoneRedundant"}], "location": "eastus"}),
                259.88 + 14.72,
            ),
            ("azurerm_mssql_database", json!({"sku_name": "S0"}), 14.72),
            // Standard tier 73 + 3 x D2s_v3 Linux
            (
                "azurerm_kubernetes_cluster",
                json!({"sku_tier": "Standard", "location": "eastus", "default_node_pool": [{"vm_size": "Standard_D2s_v3", "node_count": 3}]}),
                73.0 + 3.0 * 70.08,
            ),
        ];
        for (t, values, expected) in cases {
            let c = price_side(t, "r.x", &values, &Value::Null, &hints, &usage);
            assert!(
                (c.monthly - expected).abs() < 1e-6,
                "{t}: got {} expected {expected}: {c:?}",
                c.monthly
            );
            // Aurora storage is billed on the cluster; the endpoint's data has no usage here.
            let expected_gaps = matches!(t, "aws_rds_cluster_instance" | "aws_vpc_endpoint");
            assert_eq!(!c.gaps.is_empty(), expected_gaps, "{t}: {:?}", c.gaps);
        }
    }

    #[test]
    fn gateway_vpc_endpoint_is_free() {
        let c = side("aws_vpc_endpoint", json!({"vpc_endpoint_type": "Gateway"}));
        assert!(c.free && c.gaps.is_empty() && c.monthly == 0.0);
    }
}
