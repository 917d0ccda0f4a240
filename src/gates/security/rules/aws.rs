//! AWS rules, written against the attribute names of the real AWS provider
//! (and of the test cloud, which uses the same names).

use super::net::{is_world, PortTest, Ports};
use super::{
    require_false, require_true, secrets_in, secrets_in_value, unknown, Env, Outcome, Rule, Subject,
};
use crate::gates::security::iam;
use crate::gates::security::node::{Known, Node};
use crate::gates::Severity::{Critical, High, Low, Medium};

const SG_TYPES: &[&str] = &[
    "aws_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
];

pub(super) static RULES: &[Rule] = &[
    Rule {
        id: "PG-AWS-001",
        severity: High,
        title: "Security group allows SSH (22) from the internet",
        remediation: "Restrict the source CIDR of port 22 to known ranges, or use SSM Session Manager instead of SSH.",
        types: SG_TYPES,
        checkov: &["CKV_AWS_24"],
        trivy: &["AVD-AWS-0107"],
        check: |s, _| sg_ingress(s, PortTest::One(22)),
    },
    Rule {
        id: "PG-AWS-002",
        severity: High,
        title: "Security group allows RDP (3389) from the internet",
        remediation: "Restrict the source CIDR of port 3389 to known ranges, or reach hosts through a bastion or SSM.",
        types: SG_TYPES,
        checkov: &["CKV_AWS_25"],
        trivy: &["AVD-AWS-0107"],
        check: |s, _| sg_ingress(s, PortTest::One(3389)),
    },
    Rule {
        id: "PG-AWS-003",
        severity: High,
        title: "Security group allows a database port from the internet",
        remediation: "Keep databases in private subnets and allow their port only from application security groups.",
        types: SG_TYPES,
        checkov: &[],
        trivy: &["AVD-AWS-0107"],
        check: |s, _| sg_ingress(s, PortTest::Database),
    },
    Rule {
        id: "PG-AWS-004",
        severity: High,
        title: "Security group allows all ports from the internet",
        remediation: "Open only the ports the service needs, from the ranges that need them.",
        types: SG_TYPES,
        checkov: &["CKV_AWS_277"],
        trivy: &["AVD-AWS-0107"],
        check: |s, _| sg_ingress(s, PortTest::All),
    },
    // Trivy rates unrestricted egress critical. It is the AWS default for every
    // security group, so critical would block nearly every plan: medium reports
    // it without stopping the phase.
    Rule {
        id: "PG-AWS-005",
        severity: Medium,
        title: "Security group allows unrestricted egress to the internet",
        remediation: "Limit egress to the destinations and ports the workload needs (VPC endpoints, proxies).",
        types: SG_TYPES,
        checkov: &["CKV_AWS_382"],
        trivy: &["AVD-AWS-0104"],
        check: |s, _| sg_egress(s),
    },
    Rule {
        id: "PG-AWS-006",
        severity: High,
        title: "S3 bucket ACL grants public access",
        remediation: "Use the `private` ACL (or no ACL with BucketOwnerEnforced ownership) and share through policies scoped to principals.",
        types: &["aws_s3_bucket", "aws_s3_bucket_acl"],
        checkov: &["CKV_AWS_20", "CKV_AWS_57"],
        trivy: &["AVD-AWS-0092"],
        check: |s, _| match s.node.key("acl").str() {
            Known::Value(acl @ ("public-read" | "public-read-write" | "authenticated-read")) => {
                vec![Outcome::Fail(format!("the bucket ACL is `{acl}`"))]
            }
            Known::Unknown => vec![unknown("acl")],
            _ => vec![],
        },
    },
    Rule {
        id: "PG-AWS-007",
        severity: High,
        title: "S3 bucket policy allows any principal",
        remediation: "Name the principals in the bucket policy, or add a condition (aws:SourceVpce, aws:PrincipalOrgID).",
        types: &["aws_s3_bucket", "aws_s3_bucket_policy"],
        checkov: &["CKV_AWS_70"],
        trivy: &[],
        check: |s, _| {
            iam::with_document(s.node, "policy", |doc| {
                doc.public_allow_statements()
                    .into_iter()
                    .map(|sid| Outcome::Fail(format!("statement {sid} allows `Principal: *` without a condition")))
                    .collect()
            })
        },
    },
    Rule {
        id: "PG-AWS-008",
        severity: High,
        title: "S3 public access block is not fully enabled",
        remediation: "Set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to true.",
        types: &["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"],
        checkov: &["CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"],
        trivy: &["AVD-AWS-0086", "AVD-AWS-0087", "AVD-AWS-0091", "AVD-AWS-0093"],
        check: |s, _| {
            ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
                .iter()
                .flat_map(|a| require_true(s.node, a, false, &format!("`{a}` is false")))
                .collect()
        },
    },
    Rule {
        id: "PG-AWS-009",
        severity: High,
        title: "S3 bucket has no default encryption",
        remediation: "Add server_side_encryption_configuration (or an aws_s3_bucket_server_side_encryption_configuration) with AES256 or aws:kms.",
        types: &["aws_s3_bucket"],
        checkov: &["CKV_AWS_19"],
        trivy: &["AVD-AWS-0088"],
        check: |s, env| {
            let sse = s.node.key("server_side_encryption_configuration");
            if sse.is_unknown() {
                return vec![unknown("server_side_encryption_configuration")];
            }
            let algo = sse.first().key("rule").first().key("apply_server_side_encryption_by_default").first().key("sse_algorithm");
            match algo.str() {
                Known::Value(_) => vec![],
                Known::Unknown => vec![unknown("server_side_encryption_configuration")],
                Known::Absent if has_companion(s, env, "aws_s3_bucket_server_side_encryption_configuration") => vec![],
                Known::Absent => vec![Outcome::Fail("no server-side encryption is configured".into())],
            }
        },
    },
    Rule {
        id: "PG-AWS-010",
        severity: Medium,
        title: "S3 bucket versioning is not enabled",
        remediation: "Enable versioning (versioning { enabled = true } or aws_s3_bucket_versioning) so overwritten and deleted objects can be recovered.",
        types: &["aws_s3_bucket"],
        checkov: &["CKV_AWS_21"],
        trivy: &["AVD-AWS-0090"],
        check: |s, env| {
            let v = s.node.key("versioning");
            match v.first().key("enabled").bool() {
                Known::Value(true) => vec![],
                Known::Unknown => vec![unknown("versioning")],
                _ if v.is_unknown() => vec![unknown("versioning")],
                _ if has_companion(s, env, "aws_s3_bucket_versioning") => vec![],
                _ => vec![Outcome::Fail("versioning is off".into())],
            }
        },
    },
    Rule {
        id: "PG-AWS-011",
        severity: Low,
        title: "S3 bucket access logging is not enabled",
        remediation: "Add a logging block (or aws_s3_bucket_logging) that delivers access logs to a log bucket.",
        types: &["aws_s3_bucket"],
        checkov: &["CKV_AWS_18"],
        trivy: &["AVD-AWS-0089"],
        check: |s, env| {
            let l = s.node.key("logging");
            if l.is_unknown() {
                return vec![unknown("logging")];
            }
            match l.first().key("target_bucket").str() {
                Known::Value(_) => vec![],
                Known::Unknown => vec![unknown("logging")],
                Known::Absent if has_companion(s, env, "aws_s3_bucket_logging") => vec![],
                Known::Absent => vec![Outcome::Fail("access logging is off".into())],
            }
        },
    },
    Rule {
        id: "PG-AWS-012",
        severity: High,
        title: "RDS instance storage is not encrypted",
        remediation: "Set storage_encrypted = true (this replaces an existing instance: restore from an encrypted snapshot).",
        types: &["aws_db_instance"],
        checkov: &["CKV_AWS_16"],
        trivy: &["AVD-AWS-0080"],
        check: |s, _| {
            // A read replica inherits encryption from its source.
            if matches!(s.node.key("replicate_source_db").str(), Known::Value(_)) {
                return vec![];
            }
            require_true(s.node, "storage_encrypted", false, "storage_encrypted is false")
        },
    },
    Rule {
        id: "PG-AWS-013",
        severity: High,
        title: "RDS instance is publicly accessible",
        remediation: "Set publicly_accessible = false and reach the database from inside the VPC.",
        types: &["aws_db_instance", "aws_rds_cluster_instance"],
        checkov: &["CKV_AWS_17"],
        trivy: &["AVD-AWS-0180"],
        check: |s, _| require_false(s.node, "publicly_accessible", false, "publicly_accessible is true"),
    },
    Rule {
        id: "PG-AWS-014",
        severity: Medium,
        title: "RDS automated backups are disabled",
        remediation: "Set backup_retention_period to at least 7 days.",
        types: &["aws_db_instance", "aws_rds_cluster"],
        checkov: &["CKV_AWS_133"],
        trivy: &["AVD-AWS-0077"],
        check: |s, _| match s.node.key("backup_retention_period").int() {
            Known::Value(0) => vec![Outcome::Fail("backup_retention_period is 0: no automated backups".into())],
            Known::Unknown => vec![unknown("backup_retention_period")],
            _ => vec![],
        },
    },
    Rule {
        id: "PG-AWS-015",
        severity: Medium,
        title: "RDS deletion protection is off in a protected environment",
        remediation: "Set deletion_protection = true for databases in protected environments.",
        types: &["aws_db_instance", "aws_rds_cluster"],
        checkov: &["CKV_AWS_293"],
        trivy: &["AVD-AWS-0177"],
        check: |s, env| {
            if !env.protected {
                return vec![];
            }
            require_true(s.node, "deletion_protection", false, "deletion_protection is off")
        },
    },
    Rule {
        id: "PG-AWS-016",
        severity: High,
        title: "RDS cluster storage is not encrypted",
        remediation: "Set storage_encrypted = true on the cluster.",
        types: &["aws_rds_cluster"],
        checkov: &["CKV_AWS_96"],
        trivy: &["AVD-AWS-0079"],
        check: |s, _| require_true(s.node, "storage_encrypted", false, "storage_encrypted is false"),
    },
    Rule {
        id: "PG-AWS-017",
        severity: High,
        title: "EC2 instance root volume is not encrypted",
        remediation: "Set root_block_device { encrypted = true } (or enable EBS encryption by default in the account).",
        types: &["aws_instance", "aws_launch_configuration"],
        checkov: &["CKV_AWS_8"],
        trivy: &["AVD-AWS-0131"],
        check: |s, _| {
            let root = s.node.key("root_block_device");
            if root.is_unknown() {
                return vec![unknown("root_block_device")];
            }
            let mut out = match root.first().key("encrypted").bool() {
                Known::Value(true) => vec![],
                Known::Unknown => vec![unknown("root_block_device.encrypted")],
                _ => vec![Outcome::Fail("the root block device is not encrypted".into())],
            };
            for (i, d) in s.node.key("ebs_block_device").items().into_iter().enumerate() {
                match d.key("encrypted").bool() {
                    Known::Value(true) => {}
                    Known::Unknown => out.push(unknown(&format!("ebs_block_device[{i}].encrypted"))),
                    _ => out.push(Outcome::Fail(format!("ebs_block_device[{i}] is not encrypted"))),
                }
            }
            out
        },
    },
    Rule {
        id: "PG-AWS-018",
        severity: High,
        title: "EBS volume is not encrypted",
        remediation: "Set encrypted = true on the volume.",
        types: &["aws_ebs_volume"],
        checkov: &["CKV_AWS_3"],
        trivy: &["AVD-AWS-0026"],
        check: |s, _| require_true(s.node, "encrypted", false, "the volume is not encrypted"),
    },
    Rule {
        id: "PG-AWS-019",
        severity: High,
        title: "EC2 instance allows IMDSv1",
        remediation: "Set metadata_options { http_tokens = \"required\" }.",
        types: &["aws_instance", "aws_launch_template"],
        checkov: &["CKV_AWS_79"],
        trivy: &["AVD-AWS-0028"],
        check: |s, _| {
            let m = s.node.key("metadata_options");
            // An instance type without the attribute in its schema (the test
            // cloud's) has no metadata service to protect.
            if !m.exists() {
                return vec![];
            }
            match m.first().key("http_tokens").str() {
                Known::Value("required") => vec![],
                Known::Unknown => vec![unknown("metadata_options.http_tokens")],
                _ if m.is_unknown() => vec![unknown("metadata_options")],
                _ => vec![Outcome::Fail("http_tokens is not `required`: IMDSv1 is reachable".into())],
            }
        },
    },
    Rule {
        id: "PG-AWS-020",
        severity: High,
        title: "IAM policy allows wildcard actions",
        remediation: "List the actions the principal needs instead of `*` or `service:*`.",
        types: IAM_POLICY_TYPES,
        checkov: &["CKV_AWS_62", "CKV_AWS_63"],
        trivy: &["AVD-AWS-0057"],
        check: |s, _| {
            iam::with_document(s.node, "policy", |doc| {
                doc.wildcard_actions()
                    .into_iter()
                    .map(|(sid, action)| {
                        let admin = if action == "*" { " (full administrator access)" } else { "" };
                        Outcome::Fail(format!("statement {sid} allows action `{action}`{admin}"))
                    })
                    .collect()
            })
        },
    },
    // Trivy rates wildcard resources high under AVD-AWS-0057 together with
    // wildcard actions. Many actions (ec2:Describe*, list calls) accept only
    // `Resource: *`, so on its own it is medium.
    Rule {
        id: "PG-AWS-021",
        severity: Medium,
        title: "IAM policy allows actions on all resources",
        remediation: "Scope `Resource` to the ARNs the actions need.",
        types: IAM_POLICY_TYPES,
        checkov: &["CKV_AWS_355"],
        trivy: &["AVD-AWS-0057"],
        check: |s, _| {
            iam::with_document(s.node, "policy", |doc| {
                doc.wildcard_resources()
                    .into_iter()
                    .map(|sid| Outcome::Fail(format!("statement {sid} applies to `Resource: *`")))
                    .collect()
            })
        },
    },
    Rule {
        id: "PG-AWS-022",
        severity: High,
        title: "IAM role trust policy lets anyone assume the role",
        remediation: "Name the accounts, services or federated providers allowed to assume the role, and add conditions (sts:ExternalId).",
        types: &["aws_iam_role"],
        checkov: &["CKV_AWS_60"],
        trivy: &[],
        check: |s, _| {
            iam::with_document(s.node, "assume_role_policy", |doc| {
                doc.public_allow_statements()
                    .into_iter()
                    .map(|sid| Outcome::Fail(format!("trust statement {sid} allows `Principal: *`")))
                    .collect()
            })
        },
    },
    Rule {
        id: "PG-AWS-023",
        severity: High,
        title: "AdministratorAccess is attached",
        remediation: "Attach a policy limited to the job instead of arn:aws:iam::aws:policy/AdministratorAccess.",
        types: &[
            "aws_iam_role_policy_attachment",
            "aws_iam_user_policy_attachment",
            "aws_iam_group_policy_attachment",
            "aws_iam_policy_attachment",
        ],
        checkov: &["CKV_AWS_274"],
        trivy: &[],
        check: |s, _| match s.node.key("policy_arn").str() {
            Known::Value(arn) if arn.ends_with(":policy/AdministratorAccess") => {
                vec![Outcome::Fail(format!("attaches `{arn}`"))]
            }
            Known::Unknown => vec![unknown("policy_arn")],
            _ => vec![],
        },
    },
    Rule {
        id: "PG-AWS-024",
        severity: Critical,
        title: "Hard-coded secret in EC2 user data",
        remediation: "Fetch secrets at boot from Secrets Manager or SSM Parameter Store using the instance role; rotate the exposed secret.",
        types: &["aws_instance", "aws_launch_template", "aws_launch_configuration"],
        checkov: &["CKV_AWS_46"],
        trivy: &["AVD-AWS-0029"],
        check: |s, _| match s.node.key("user_data").str() {
            Known::Value(text) => secrets_in(text, "user_data"),
            Known::Unknown => vec![unknown("user_data")],
            Known::Absent => vec![],
        },
    },
    Rule {
        id: "PG-AWS-025",
        severity: Critical,
        title: "Hard-coded secret in Lambda environment variables",
        remediation: "Read secrets at run time from Secrets Manager or SSM Parameter Store; rotate the exposed secret.",
        types: &["aws_lambda_function"],
        checkov: &["CKV_AWS_45"],
        trivy: &[],
        check: |s, _| {
            let vars = s.node.key("environment").first().key("variables");
            if vars.is_unknown() {
                return vec![unknown("environment.variables")];
            }
            let mut out = Vec::new();
            if let Known::Value(v) = vars.value() {
                secrets_in_value(v, "environment.variables", &mut out);
            }
            out
        },
    },
    Rule {
        id: "PG-AWS-026",
        severity: Critical,
        title: "Hard-coded secret in ECS container definitions",
        remediation: "Pass secrets through the container definition's `secrets` (Secrets Manager or SSM ARNs), not `environment`.",
        types: &["aws_ecs_task_definition"],
        checkov: &[],
        trivy: &["AVD-AWS-0036"],
        check: |s, _| match s.node.key("container_definitions").str() {
            Known::Value(text) => {
                let mut out = Vec::new();
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(defs) => {
                        for def in defs.as_array().into_iter().flatten() {
                            let name = def.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                            for env in def.get("environment").and_then(|e| e.as_array()).into_iter().flatten() {
                                let k = env.get("name").and_then(|n| n.as_str()).unwrap_or("");
                                let v = env.get("value").and_then(|n| n.as_str()).unwrap_or("");
                                out.extend(secrets_in(&format!("{k}={v}"), &format!("container {name} environment {k}")));
                            }
                        }
                    }
                    Err(_) => out.extend(secrets_in(text, "container_definitions")),
                }
                out
            }
            Known::Unknown => vec![unknown("container_definitions")],
            Known::Absent => vec![],
        },
    },
    Rule {
        id: "PG-AWS-027",
        severity: Medium,
        title: "CloudTrail does not cover all regions",
        remediation: "Set is_multi_region_trail = true.",
        types: &["aws_cloudtrail"],
        checkov: &["CKV_AWS_67"],
        trivy: &["AVD-AWS-0014"],
        check: |s, _| require_true(s.node, "is_multi_region_trail", false, "the trail records one region only"),
    },
    Rule {
        id: "PG-AWS-028",
        severity: High,
        title: "CloudTrail log file validation is off",
        remediation: "Set enable_log_file_validation = true.",
        types: &["aws_cloudtrail"],
        checkov: &["CKV_AWS_36"],
        trivy: &["AVD-AWS-0016"],
        check: |s, _| require_true(s.node, "enable_log_file_validation", false, "log file validation is off"),
    },
    Rule {
        id: "PG-AWS-029",
        severity: Medium,
        title: "VPC has no flow log",
        remediation: "Add an aws_flow_log for the VPC.",
        types: &["aws_vpc"],
        checkov: &["CKV2_AWS_11"],
        trivy: &["AVD-AWS-0178"],
        check: |_, env| {
            // The flow log names the VPC by an id known only after apply, so
            // any flow log in the same plan is taken to cover it.
            if env.others("aws_flow_log").next().is_some() {
                vec![]
            } else {
                vec![Outcome::Fail("no aws_flow_log in this configuration".into())]
            }
        },
    },
    Rule {
        id: "PG-AWS-030",
        severity: High,
        title: "SNS topic is not encrypted",
        remediation: "Set kms_master_key_id (alias/aws/sns or a customer key).",
        types: &["aws_sns_topic"],
        checkov: &["CKV_AWS_26"],
        trivy: &["AVD-AWS-0095"],
        check: |s, _| match s.node.key("kms_master_key_id").str() {
            Known::Value(k) if !k.is_empty() => vec![],
            Known::Unknown => vec![unknown("kms_master_key_id")],
            _ => vec![Outcome::Fail("no kms_master_key_id".into())],
        },
    },
    Rule {
        id: "PG-AWS-031",
        severity: High,
        title: "SQS queue is not encrypted",
        remediation: "Set sqs_managed_sse_enabled = true or a kms_master_key_id.",
        types: &["aws_sqs_queue"],
        checkov: &["CKV_AWS_27"],
        trivy: &["AVD-AWS-0096"],
        check: |s, _| match (s.node.key("kms_master_key_id").str(), s.node.key("sqs_managed_sse_enabled").bool()) {
            (Known::Value(k), _) if !k.is_empty() => vec![],
            (_, Known::Value(true)) => vec![],
            (Known::Unknown, _) | (_, Known::Unknown) => vec![unknown("sqs_managed_sse_enabled")],
            _ => vec![Outcome::Fail("neither SSE-SQS nor a KMS key is configured".into())],
        },
    },
    Rule {
        id: "PG-AWS-032",
        severity: Medium,
        title: "DynamoDB point-in-time recovery is off",
        remediation: "Set point_in_time_recovery { enabled = true }.",
        types: &["aws_dynamodb_table"],
        checkov: &["CKV_AWS_28"],
        trivy: &["AVD-AWS-0024"],
        check: |s, _| {
            let p = s.node.key("point_in_time_recovery");
            match p.first().key("enabled").bool() {
                Known::Value(true) => vec![],
                Known::Unknown => vec![unknown("point_in_time_recovery.enabled")],
                _ if p.is_unknown() => vec![unknown("point_in_time_recovery")],
                _ => vec![Outcome::Fail("point-in-time recovery is off".into())],
            }
        },
    },
    Rule {
        id: "PG-AWS-033",
        severity: High,
        title: "Subnet assigns public IPs by default",
        remediation: "Set map_public_ip_on_launch = false and give public addresses explicitly where needed.",
        types: &["aws_subnet"],
        checkov: &["CKV_AWS_130"],
        trivy: &["AVD-AWS-0164"],
        check: |s, _| require_false(s.node, "map_public_ip_on_launch", false, "map_public_ip_on_launch is true"),
    },
    Rule {
        id: "PG-AWS-034",
        severity: High,
        title: "RDS instance master password is a literal in the configuration",
        remediation: "Use manage_master_user_password = true (Secrets Manager) or pass the password from a secret store.",
        types: &["aws_db_instance", "aws_rds_cluster"],
        checkov: &[],
        trivy: &[],
        check: |s, _| {
            // The password itself is masked by normalization; a known,
            // non-sensitive password means it was written down in plain text.
            match s.node.key("password").str() {
                Known::Value(p) if p != crate::plan::SENSITIVE_MASK && !p.is_empty() => {
                    vec![Outcome::Fail("the master password is not marked sensitive".into())]
                }
                _ => vec![],
            }
        },
    },
];

const IAM_POLICY_TYPES: &[&str] = &[
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
];

/// True when a companion resource (aws_s3_bucket_versioning, ...) in the plan
/// configures this bucket, or names a bucket only known after apply.
fn has_companion(s: &Subject, env: &Env, companion: &str) -> bool {
    let bucket = s.node.key("bucket").str();
    env.others(companion)
        .any(|c| match (c.key("bucket").str(), bucket) {
            (Known::Unknown, _) | (_, Known::Unknown) => true,
            (Known::Value(a), Known::Value(b)) => a == b,
            _ => false,
        })
}

/// One security-group rule, whatever resource shape it came from.
struct SgRule<'a> {
    label: String,
    node: Node<'a>,
    egress: bool,
    ipv6_key: &'a str,
    ipv4_key: &'a str,
    proto_key: &'a str,
}

fn sg_rules<'a>(s: &Subject<'a>) -> Result<Vec<SgRule<'a>>, Outcome> {
    let mut out = Vec::new();
    match s.resource_type {
        "aws_security_group" => {
            for dir in ["ingress", "egress"] {
                let blocks = s.node.key(dir);
                if blocks.is_unknown() {
                    return Err(unknown(dir));
                }
                for (i, b) in blocks.items().into_iter().enumerate() {
                    out.push(SgRule {
                        label: format!("{dir}[{i}]"),
                        node: b,
                        egress: dir == "egress",
                        ipv4_key: "cidr_blocks",
                        ipv6_key: "ipv6_cidr_blocks",
                        proto_key: "protocol",
                    });
                }
            }
        }
        "aws_security_group_rule" => {
            let egress = match s.node.key("type").str() {
                Known::Value(t) => t == "egress",
                _ => return Err(unknown("type")),
            };
            out.push(SgRule {
                label: "the rule".into(),
                node: s.node,
                egress,
                ipv4_key: "cidr_blocks",
                ipv6_key: "ipv6_cidr_blocks",
                proto_key: "protocol",
            });
        }
        t => out.push(SgRule {
            label: "the rule".into(),
            node: s.node,
            egress: t.ends_with("egress_rule"),
            ipv4_key: "cidr_ipv4",
            ipv6_key: "cidr_ipv6",
            proto_key: "ip_protocol",
        }),
    }
    Ok(out)
}

/// The ports a rule opens to the world, or why that is not known yet.
fn world_ports(r: &SgRule) -> Result<Option<(Ports, String)>, Outcome> {
    let mut world = None;
    for key in [r.ipv4_key, r.ipv6_key] {
        match r.node.key(key).strings() {
            Known::Value(list) => {
                if let Some(src) = list.into_iter().find(|c| is_world(c)) {
                    world = Some(src.to_string());
                }
            }
            Known::Unknown => return Err(unknown(&format!("{} {key}", r.label))),
            Known::Absent => {}
        }
    }
    let Some(src) = world else { return Ok(None) };
    let proto = match r.node.key(r.proto_key).str() {
        Known::Value(p) => p.to_ascii_lowercase(),
        Known::Unknown => return Err(unknown(&format!("{} {}", r.label, r.proto_key))),
        Known::Absent => "-1".into(),
    };
    if proto == "-1" || proto == "all" {
        return Ok(Some((Ports::ALL, src)));
    }
    let port = |k: &str| match r.node.key(k).int() {
        Known::Value(p) => Ok(p),
        Known::Unknown => Err(unknown(&format!("{} {k}", r.label))),
        Known::Absent => Ok(-1),
    };
    let (from, to) = (port("from_port")?, port("to_port")?);
    let ports = if from <= 0 && (to <= 0 || to >= 65535) {
        Ports::ALL
    } else {
        Ports {
            from: from.max(0) as u32,
            to: to.max(from) as u32,
        }
    };
    Ok(Some((ports, src)))
}

fn sg_ingress(s: &Subject, test: PortTest) -> Vec<Outcome> {
    let rules = match sg_rules(s) {
        Ok(r) => r,
        Err(o) => return vec![o],
    };
    let mut out = Vec::new();
    for r in rules.iter().filter(|r| !r.egress) {
        match world_ports(r) {
            Ok(Some((ports, src))) => {
                if let Some(hit) = test.hits(ports) {
                    out.push(Outcome::Fail(format!("{} opens {hit} to {src}", r.label)));
                }
            }
            Ok(None) => {}
            Err(o) => out.push(o),
        }
    }
    out
}

fn sg_egress(s: &Subject) -> Vec<Outcome> {
    let rules = match sg_rules(s) {
        Ok(r) => r,
        Err(o) => return vec![o],
    };
    let mut out = Vec::new();
    for r in rules.iter().filter(|r| r.egress) {
        match world_ports(r) {
            Ok(Some((ports, src))) if ports.is_all() => {
                out.push(Outcome::Fail(format!(
                    "{} allows all egress to {src}",
                    r.label
                )));
            }
            Ok(_) => {}
            Err(o) => out.push(o),
        }
    }
    out
}
