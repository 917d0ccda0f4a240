//! Google Cloud rules, against the google provider's attribute names.

use super::net::{is_world, parse_range, PortTest, Ports};
use super::{require_false, require_true, secrets_in, unknown, Outcome, Rule, Subject};
use crate::gates::security::node::Known;
use crate::gates::Severity::{Critical, High, Low, Medium};

pub(super) static RULES: &[Rule] = &[
    Rule {
        id: "PG-GCP-001",
        severity: Critical,
        title: "Firewall allows SSH (22) from the internet",
        remediation: "Restrict source_ranges for port 22 (use IAP TCP forwarding: 35.235.240.0/20).",
        types: &["google_compute_firewall"],
        checkov: &["CKV_GCP_2"],
        checkov_note: "CKV_GCP_2 fails an ingress firewall allowing port 22 from 0.0.0.0/0",
        trivy: &["AVD-GCP-0027", "AVD-GCP-0071"],
        check: |s, _| fw_ingress(s, PortTest::One(22)),
    },
    Rule {
        id: "PG-GCP-002",
        severity: Critical,
        title: "Firewall allows RDP (3389) from the internet",
        remediation: "Restrict source_ranges for port 3389.",
        types: &["google_compute_firewall"],
        checkov: &["CKV_GCP_3"],
        checkov_note: "CKV_GCP_3 fails an ingress firewall allowing port 3389 from 0.0.0.0/0",
        trivy: &["AVD-GCP-0027", "AVD-GCP-0070"],
        check: |s, _| fw_ingress(s, PortTest::One(3389)),
    },
    Rule {
        id: "PG-GCP-003",
        severity: Critical,
        title: "Firewall allows a database port from the internet",
        remediation: "Allow database ports only from the application's network tags or service accounts.",
        types: &["google_compute_firewall"],
        checkov: &[],
        checkov_note: "No Checkov check for database ports as a class",
        trivy: &["AVD-GCP-0027"],
        check: |s, _| fw_ingress(s, PortTest::Database),
    },
    Rule {
        id: "PG-GCP-004",
        severity: Critical,
        title: "Firewall allows all ports from the internet",
        remediation: "Allow only the protocols and ports the service needs.",
        types: &["google_compute_firewall"],
        checkov: &[],
        checkov_note: "No Checkov check for all ports open (CKV_GCP_2/3 test single ports)",
        trivy: &["AVD-GCP-0027", "AVD-GCP-0072"],
        check: |s, _| fw_ingress(s, PortTest::All),
    },
    // Trivy rates this critical; unrestricted egress is Google's implied
    // default, so medium reports it without stopping the phase.
    Rule {
        id: "PG-GCP-005",
        severity: Medium,
        title: "Firewall allows unrestricted egress to the internet",
        remediation: "Limit destination_ranges to the services the workload needs.",
        types: &["google_compute_firewall"],
        checkov: &[],
        checkov_note: "No Checkov check for unrestricted egress on GCP firewalls",
        trivy: &["AVD-GCP-0035"],
        check: |s, _| {
            if !matches!(s.node.key("direction").str(), Known::Value("EGRESS")) {
                return vec![];
            }
            match s.node.key("destination_ranges").strings() {
                Known::Value(r) if r.iter().any(|c| is_world(c)) => {
                    vec![Outcome::Fail("egress to 0.0.0.0/0 is allowed".into())]
                }
                Known::Unknown => vec![unknown("destination_ranges")],
                _ => vec![],
            }
        },
    },
    Rule {
        id: "PG-GCP-006",
        severity: High,
        title: "Storage bucket is readable by allUsers or allAuthenticatedUsers",
        remediation: "Grant bucket roles to named principals only.",
        types: &["google_storage_bucket_iam_member", "google_storage_bucket_iam_binding"],
        checkov: &["CKV_GCP_28"],
        checkov_note: "CKV_GCP_28 fails a bucket IAM member or binding granting allUsers or allAuthenticatedUsers",
        trivy: &["AVD-GCP-0001"],
        check: |s, _| {
            let mut members = match s.node.key("members").strings() {
                Known::Value(m) => m,
                Known::Unknown => return vec![unknown("members")],
                Known::Absent => vec![],
            };
            match s.node.key("member").str() {
                Known::Value(m) => members.push(m),
                Known::Unknown => return vec![unknown("member")],
                Known::Absent => {}
            }
            members
                .into_iter()
                .filter(|m| *m == "allUsers" || *m == "allAuthenticatedUsers")
                .map(|m| Outcome::Fail(format!("grants access to `{m}`")))
                .collect()
        },
    },
    Rule {
        id: "PG-GCP-007",
        severity: Medium,
        title: "Storage bucket does not use uniform bucket-level access",
        remediation: "Set uniform_bucket_level_access = true.",
        types: &["google_storage_bucket"],
        checkov: &["CKV_GCP_29"],
        checkov_note: "CKV_GCP_29 fails unless uniform_bucket_level_access is true",
        trivy: &["AVD-GCP-0002"],
        check: |s, _| require_true(s.node, "uniform_bucket_level_access", false, "uniform bucket-level access is off"),
    },
    Rule {
        id: "PG-GCP-008",
        severity: Medium,
        title: "Storage bucket versioning is not enabled",
        remediation: "Set versioning { enabled = true }.",
        types: &["google_storage_bucket"],
        checkov: &["CKV_GCP_78"],
        checkov_note: "CKV_GCP_78 fails unless versioning.enabled is true",
        trivy: &["AVD-GCP-0078"],
        check: |s, _| require_true(s.node.key("versioning").first(), "enabled", false, "versioning is off"),
    },
    Rule {
        id: "PG-GCP-009",
        severity: Medium,
        title: "Storage bucket access logging is not enabled",
        remediation: "Add a logging block with a log_bucket.",
        types: &["google_storage_bucket"],
        checkov: &["CKV_GCP_62"],
        checkov_note: "CKV_GCP_62 fails a bucket without a logging block naming a log_bucket",
        trivy: &["AVD-GCP-0077"],
        check: |s, _| match s.node.key("logging").first().key("log_bucket").str() {
            Known::Value(_) => vec![],
            Known::Unknown => vec![unknown("logging.log_bucket")],
            Known::Absent => vec![Outcome::Fail("access logging is off".into())],
        },
    },
    Rule {
        id: "PG-GCP-010",
        severity: High,
        title: "Cloud SQL instance accepts connections from the whole internet",
        remediation: "Remove 0.0.0.0/0 from authorized_networks; use private IP or the Cloud SQL Auth Proxy.",
        types: &["google_sql_database_instance"],
        checkov: &["CKV_GCP_11"],
        checkov_note: "CKV_GCP_11 fails an authorized network of 0.0.0.0/0 in ip_configuration",
        trivy: &["AVD-GCP-0017"],
        check: |s, _| {
            let ip = s.node.key("settings").first().key("ip_configuration").first();
            let mut out = Vec::new();
            for net in ip.key("authorized_networks").items() {
                match net.key("value").str() {
                    Known::Value(v) if is_world(v) => out.push(Outcome::Fail(format!("authorized network `{v}`"))),
                    Known::Unknown => out.push(unknown("authorized_networks.value")),
                    _ => {}
                }
            }
            out
        },
    },
    Rule {
        id: "PG-GCP-011",
        severity: Medium,
        title: "Cloud SQL automated backups are disabled",
        remediation: "Set settings { backup_configuration { enabled = true } }.",
        types: &["google_sql_database_instance"],
        checkov: &["CKV_GCP_14"],
        checkov_note: "CKV_GCP_14 fails unless settings.backup_configuration.enabled is true",
        trivy: &["AVD-GCP-0024"],
        check: |s, _| {
            let b = s.node.key("settings").first().key("backup_configuration").first();
            require_true(b, "enabled", false, "automated backups are off")
        },
    },
    Rule {
        id: "PG-GCP-012",
        severity: High,
        title: "Compute instance has a public IP address",
        remediation: "Remove access_config from the network interface; use Cloud NAT for egress and IAP for access.",
        types: &["google_compute_instance"],
        checkov: &["CKV_GCP_40"],
        checkov_note: "CKV_GCP_40 fails an instance whose first network interface has an access_config (external IP)",
        trivy: &["AVD-GCP-0031"],
        check: |s, _| {
            let mut out = Vec::new();
            for (i, nic) in s.node.key("network_interface").items().into_iter().enumerate() {
                let ac = nic.key("access_config");
                if ac.is_unknown() {
                    out.push(unknown(&format!("network_interface[{i}].access_config")));
                } else if !ac.items().is_empty() {
                    out.push(Outcome::Fail(format!("network_interface[{i}] has an access_config (public IP)")));
                }
            }
            out
        },
    },
    Rule {
        id: "PG-GCP-013",
        severity: High,
        title: "Compute instance can forward IP packets",
        remediation: "Set can_ip_forward = false unless the VM is a router.",
        types: &["google_compute_instance"],
        checkov: &["CKV_GCP_36"],
        checkov_note: "CKV_GCP_36 fails when can_ip_forward is true",
        trivy: &["AVD-GCP-0043"],
        check: |s, _| require_false(s.node, "can_ip_forward", false, "can_ip_forward is true"),
    },
    Rule {
        id: "PG-GCP-014",
        severity: Low,
        title: "Subnetwork has no VPC flow logs",
        remediation: "Add a log_config block to the subnetwork.",
        types: &["google_compute_subnetwork"],
        checkov: &["CKV_GCP_26"],
        checkov_note: "CKV_GCP_26 fails a subnetwork without log_config",
        trivy: &["AVD-GCP-0029"],
        check: |s, _| {
            let l = s.node.key("log_config");
            if l.is_unknown() {
                vec![unknown("log_config")]
            } else if l.items().is_empty() {
                vec![Outcome::Fail("flow logs are off".into())]
            } else {
                vec![]
            }
        },
    },
    Rule {
        id: "PG-GCP-015",
        severity: Critical,
        title: "Hard-coded secret in instance metadata",
        remediation: "Read secrets from Secret Manager at boot; rotate the exposed secret.",
        types: &["google_compute_instance", "google_compute_instance_template"],
        checkov: &[],
        checkov_note: "No Checkov terraform_plan check reads instance metadata values for secrets",
        trivy: &[],
        check: |s, _| {
            let mut out = Vec::new();
            for (k, v) in s.node.key("metadata").entries() {
                if let Known::Value(text) = v {
                    out.extend(secrets_in(&format!("{k}={text}"), &format!("metadata.{k}")));
                }
            }
            if let Known::Value(text) = s.node.key("metadata_startup_script").str() {
                out.extend(secrets_in(text, "metadata_startup_script"));
            }
            out
        },
    },
];

fn fw_ingress(s: &Subject, test: PortTest) -> Vec<Outcome> {
    match s.node.key("direction").str() {
        Known::Value("EGRESS") => return vec![],
        Known::Unknown => return vec![unknown("direction")],
        _ => {}
    }
    let src = match s.node.key("source_ranges").strings() {
        Known::Value(r) => r.into_iter().find(|c| is_world(c)),
        Known::Unknown => return vec![unknown("source_ranges")],
        Known::Absent => None,
    };
    let Some(src) = src else { return vec![] };
    let mut out = Vec::new();
    for allow in s.node.key("allow").items() {
        let proto = match allow.key("protocol").str() {
            Known::Value(p) => p.to_ascii_lowercase(),
            Known::Unknown => return vec![unknown("allow.protocol")],
            Known::Absent => "all".into(),
        };
        let ranges: Vec<Ports> = match allow.key("ports").strings() {
            Known::Value(p) if !p.is_empty() && proto != "all" => {
                p.iter().filter_map(|r| parse_range(r)).collect()
            }
            Known::Unknown => return vec![unknown("allow.ports")],
            _ => vec![Ports::ALL],
        };
        if !matches!(proto.as_str(), "tcp" | "udp" | "all" | "sctp") {
            continue;
        }
        for r in ranges {
            if let Some(hit) = test.hits(r) {
                out.push(Outcome::Fail(format!("allows {proto} {hit} from {src}")));
            }
        }
    }
    out
}
