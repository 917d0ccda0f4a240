//! Azure rules, against the azurerm provider's attribute names.

use super::net::{is_world, parse_range, PortTest, Ports};
use super::{require_false, require_true, secrets_in, unknown, Outcome, Rule, Subject};
use crate::gates::security::node::{Known, Node};
use crate::gates::Severity::{Critical, High, Medium};

const NSG: &[&str] = &[
    "azurerm_network_security_rule",
    "azurerm_network_security_group",
];

pub(super) static RULES: &[Rule] = &[
    Rule {
        id: "PG-AZ-001",
        severity: Critical,
        title: "Network security rule allows SSH (22) from the internet",
        remediation: "Restrict source_address_prefix for port 22, or use Azure Bastion.",
        types: NSG,
        checkov: &["CKV_AZURE_10"],
        checkov_note: "CKV_AZURE_10 fails an inbound Allow rule for port 22 from *, 0.0.0.0/0, Internet or Any",
        trivy: &["AVD-AZU-0050"],
        check: |s, _| nsg(s, PortTest::One(22), "Inbound"),
    },
    Rule {
        id: "PG-AZ-002",
        severity: Critical,
        title: "Network security rule allows RDP (3389) from the internet",
        remediation: "Restrict source_address_prefix for port 3389, or use Azure Bastion.",
        types: NSG,
        checkov: &["CKV_AZURE_9"],
        checkov_note: "CKV_AZURE_9 fails an inbound Allow rule for port 3389 from *, 0.0.0.0/0, Internet or Any",
        trivy: &["AVD-AZU-0048"],
        check: |s, _| nsg(s, PortTest::One(3389), "Inbound"),
    },
    Rule {
        id: "PG-AZ-003",
        severity: Critical,
        title: "Network security rule allows a database port from the internet",
        remediation: "Use private endpoints for databases; never allow their ports from Internet.",
        types: NSG,
        checkov: &[],
        checkov_note: "No Checkov check for database ports as a class",
        trivy: &["AVD-AZU-0047"],
        check: |s, _| nsg(s, PortTest::Database, "Inbound"),
    },
    Rule {
        id: "PG-AZ-004",
        severity: Critical,
        title: "Network security rule allows all ports from the internet",
        remediation: "Allow only the ports the service needs.",
        types: NSG,
        checkov: &[],
        checkov_note: "No Checkov check for all ports open on a network security rule",
        trivy: &["AVD-AZU-0047"],
        check: |s, _| nsg(s, PortTest::All, "Inbound"),
    },
    // Trivy rates this critical; outbound-to-internet is Azure's default
    // rule, so medium reports it without stopping the phase.
    Rule {
        id: "PG-AZ-005",
        severity: Medium,
        title: "Network security rule allows unrestricted egress to the internet",
        remediation: "Limit destination_address_prefix to the services the workload needs.",
        types: NSG,
        checkov: &[],
        checkov_note: "No Checkov check for unrestricted egress on a network security rule",
        trivy: &["AVD-AZU-0051"],
        check: |s, _| nsg(s, PortTest::All, "Outbound"),
    },
    Rule {
        id: "PG-AZ-006",
        severity: High,
        title: "Storage account allows public blob access",
        remediation:
            "Set allow_nested_items_to_be_public = false (allow_blob_public_access in azurerm 2.x).",
        types: &["azurerm_storage_account"],
        checkov: &["CKV_AZURE_190"],
        checkov_note: "CKV_AZURE_190 fails a storage account unless allow_nested_items_to_be_public is false",
        trivy: &["AVD-AZU-0007"],
        check: |s, _| {
            for attr in [
                "allow_nested_items_to_be_public",
                "allow_blob_public_access",
            ] {
                match s.node.key(attr).bool() {
                    Known::Value(true) => return vec![Outcome::Fail(format!("{attr} is true"))],
                    Known::Unknown => return vec![unknown(attr)],
                    _ => {}
                }
            }
            vec![]
        },
    },
    Rule {
        id: "PG-AZ-007",
        severity: High,
        title: "Storage container is publicly accessible",
        remediation: "Set container_access_type = \"private\".",
        types: &["azurerm_storage_container"],
        checkov: &["CKV_AZURE_34"],
        checkov_note: "CKV_AZURE_34 fails a container whose container_access_type is not private",
        trivy: &["AVD-AZU-0007"],
        check: |s, _| match s.node.key("container_access_type").str() {
            Known::Value(t @ ("blob" | "container")) => {
                vec![Outcome::Fail(format!("container_access_type is `{t}`"))]
            }
            Known::Unknown => vec![unknown("container_access_type")],
            _ => vec![],
        },
    },
    Rule {
        id: "PG-AZ-008",
        severity: High,
        title: "Storage account accepts plain HTTP",
        remediation: "Set https_traffic_only_enabled (enable_https_traffic_only) = true.",
        types: &["azurerm_storage_account"],
        checkov: &["CKV_AZURE_3"],
        checkov_note: "CKV_AZURE_3 fails unless enable_https_traffic_only is true",
        trivy: &["AVD-AZU-0008"],
        check: |s, _| {
            let attr = if s.node.key("https_traffic_only_enabled").value() != Known::Absent {
                "https_traffic_only_enabled"
            } else {
                "enable_https_traffic_only"
            };
            require_true(s.node, attr, true, "HTTPS-only traffic is off")
        },
    },
    Rule {
        id: "PG-AZ-009",
        severity: Critical,
        title: "Storage account allows TLS older than 1.2",
        remediation: "Set min_tls_version = \"TLS1_2\".",
        types: &["azurerm_storage_account"],
        checkov: &["CKV_AZURE_44"],
        checkov_note: "CKV_AZURE_44 fails a storage account whose min_tls_version is not TLS1_2",
        trivy: &["AVD-AZU-0011"],
        check: |s, _| match s.node.key("min_tls_version").str() {
            Known::Value(v @ ("TLS1_0" | "TLS1_1")) => {
                vec![Outcome::Fail(format!("min_tls_version is {v}"))]
            }
            Known::Unknown => vec![unknown("min_tls_version")],
            _ => vec![],
        },
    },
    Rule {
        id: "PG-AZ-010",
        severity: High,
        title: "SQL firewall rule opens the server to the internet",
        remediation: "Allow only known client ranges; use private endpoints.",
        types: &[
            "azurerm_mssql_firewall_rule",
            "azurerm_sql_firewall_rule",
            "azurerm_postgresql_firewall_rule",
            "azurerm_mysql_firewall_rule",
        ],
        checkov: &["CKV_AZURE_11"],
        checkov_note: "CKV_AZURE_11 fails a SQL firewall rule from 0.0.0.0 to 255.255.255.255",
        trivy: &["AVD-AZU-0029"],
        check: |s, _| match (
            s.node.key("start_ip_address").str(),
            s.node.key("end_ip_address").str(),
        ) {
            (Known::Value("0.0.0.0"), Known::Value("255.255.255.255")) => {
                vec![Outcome::Fail("allows 0.0.0.0 - 255.255.255.255".into())]
            }
            (Known::Unknown, _) | (_, Known::Unknown) => vec![unknown("start_ip_address")],
            _ => vec![],
        },
    },
    Rule {
        id: "PG-AZ-011",
        severity: Medium,
        title: "Database server allows public network access",
        remediation: "Set public_network_access_enabled = false and use private endpoints.",
        types: &[
            "azurerm_mssql_server",
            "azurerm_postgresql_server",
            "azurerm_mysql_server",
        ],
        checkov: &["CKV_AZURE_113"],
        checkov_note: "CKV_AZURE_113 fails an azurerm_mssql_server unless public_network_access_enabled is false",
        trivy: &["AVD-AZU-0022"],
        check: |s, _| {
            require_false(
                s.node,
                "public_network_access_enabled",
                true,
                "public network access is enabled",
            )
        },
    },
    Rule {
        id: "PG-AZ-012",
        severity: High,
        title: "Linux VM allows password authentication",
        remediation: "Set disable_password_authentication = true and use SSH keys.",
        types: &[
            "azurerm_linux_virtual_machine",
            "azurerm_linux_virtual_machine_scale_set",
        ],
        checkov: &["CKV_AZURE_149"],
        checkov_note: "CKV_AZURE_149 fails a Linux VM or scale set with disable_password_authentication false",
        trivy: &["AVD-AZU-0039"],
        check: |s, _| {
            require_true(
                s.node,
                "disable_password_authentication",
                true,
                "password authentication is enabled",
            )
        },
    },
    // Trivy rates this medium; a working credential in custom data is as
    // exposed as one in AWS user data, which Trivy rates critical.
    Rule {
        id: "PG-AZ-013",
        severity: Critical,
        title: "Hard-coded secret in VM custom data",
        remediation:
            "Read secrets from Key Vault with a managed identity; rotate the exposed secret.",
        types: &[
            "azurerm_linux_virtual_machine",
            "azurerm_windows_virtual_machine",
            "azurerm_virtual_machine",
        ],
        checkov: &["CKV_AZURE_45"],
        checkov_note: "CKV_AZURE_45 fails custom_data of an azurerm_virtual_machine containing secret patterns",
        trivy: &["AVD-AZU-0037"],
        check: |s, _| {
            let mut out = Vec::new();
            for attr in ["custom_data", "user_data"] {
                match s.node.key(attr).str() {
                    Known::Value(text) => out.extend(secrets_in(text, attr)),
                    Known::Unknown => out.push(unknown(attr)),
                    Known::Absent => {}
                }
            }
            let profile = s.node.key("os_profile").first();
            if let Known::Value(text) = profile.key("custom_data").str() {
                out.extend(secrets_in(text, "os_profile.custom_data"));
            }
            out
        },
    },
    Rule {
        id: "PG-AZ-014",
        severity: Medium,
        title: "Key vault purge protection is off",
        remediation: "Set purge_protection_enabled = true.",
        types: &["azurerm_key_vault"],
        checkov: &["CKV_AZURE_110"],
        checkov_note: "CKV_AZURE_110 fails a key vault unless purge_protection_enabled is true",
        trivy: &["AVD-AZU-0016"],
        check: |s, _| {
            require_true(
                s.node,
                "purge_protection_enabled",
                false,
                "purge protection is off",
            )
        },
    },
];

fn nsg(s: &Subject, test: PortTest, direction: &str) -> Vec<Outcome> {
    if s.resource_type == "azurerm_network_security_group" {
        let rules = s.node.key("security_rule");
        if rules.is_unknown() {
            return vec![unknown("security_rule")];
        }
        return rules
            .items()
            .into_iter()
            .flat_map(|r| {
                let name = match r.key("name").str() {
                    Known::Value(n) => n.to_string(),
                    _ => "?".into(),
                };
                nsg_rule(r, test, direction)
                    .into_iter()
                    .map(move |o| match o {
                        Outcome::Fail(m) => Outcome::Fail(format!("security_rule `{name}` {m}")),
                        o => o,
                    })
            })
            .collect();
    }
    nsg_rule(s.node, test, direction)
}

fn nsg_rule(r: Node, test: PortTest, direction: &str) -> Vec<Outcome> {
    let (dir, access) = (r.key("direction").str(), r.key("access").str());
    if dir == Known::Unknown || access == Known::Unknown {
        return vec![unknown("direction")];
    }
    if dir != Known::Value(direction) || access != Known::Value("Allow") {
        return vec![];
    }
    let (single, many) = if direction == "Inbound" {
        ("source_address_prefix", "source_address_prefixes")
    } else {
        ("destination_address_prefix", "destination_address_prefixes")
    };
    let mut prefixes = match r.key(many).strings() {
        Known::Value(p) => p,
        Known::Unknown => return vec![unknown(many)],
        Known::Absent => vec![],
    };
    match r.key(single).str() {
        Known::Value(p) => prefixes.push(p),
        Known::Unknown => return vec![unknown(single)],
        Known::Absent => {}
    }
    let Some(src) = prefixes.into_iter().find(|p| is_world(p)) else {
        return vec![];
    };
    let mut ranges: Vec<Ports> = Vec::new();
    match r.key("destination_port_range").str() {
        Known::Value(p) => ranges.extend(parse_range(p)),
        Known::Unknown => return vec![unknown("destination_port_range")],
        Known::Absent => {}
    }
    match r.key("destination_port_ranges").strings() {
        Known::Value(list) => ranges.extend(list.iter().filter_map(|p| parse_range(p))),
        Known::Unknown => return vec![unknown("destination_port_ranges")],
        Known::Absent => {}
    }
    let verb = if direction == "Inbound" { "from" } else { "to" };
    ranges
        .into_iter()
        .filter_map(|p| test.hits(p))
        .map(|hit| Outcome::Fail(format!("allows {hit} {verb} `{src}`")))
        .collect()
}
