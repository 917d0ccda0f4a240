//! AWS rules, written against the attribute names of the real AWS provider
//! (and of the test cloud, which uses the same names).

use super::net::{is_world, PortTest, Ports};
use super::{
    require_false, require_true, secrets_in, secrets_in_value, unknown, Env, Outcome, Rule, Subject,
};
use crate::gates::security::iam;
use crate::gates::security::node::{Known, Node};
use crate::gates::Severity::{Critical, High, Info, Low, Medium};

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
        checkov_note: "CKV_AWS_24 fails a security group or ingress rule opening a port range that includes 22 to 0.0.0.0/0 or ::/0 (a rule with self = true passes the whole group)",
        trivy: &["AVD-AWS-0107"],
        check: |s, env| sg_ingress(s, env, PortTest::One(22)),
    },
    Rule {
        id: "PG-AWS-002",
        severity: High,
        title: "Security group allows RDP (3389) from the internet",
        remediation: "Restrict the source CIDR of port 3389 to known ranges, or reach hosts through a bastion or SSM.",
        types: SG_TYPES,
        checkov: &["CKV_AWS_25"],
        checkov_note: "CKV_AWS_25 fails a security group or ingress rule opening a port range that includes 3389 to 0.0.0.0/0 or ::/0",
        trivy: &["AVD-AWS-0107"],
        check: |s, env| sg_ingress(s, env, PortTest::One(3389)),
    },
    Rule {
        id: "PG-AWS-003",
        severity: High,
        title: "Security group allows a database port from the internet",
        remediation: "Keep databases in private subnets and allow their port only from application security groups.",
        types: SG_TYPES,
        checkov: &[],
        checkov_note: "No Checkov check for database ports as a class (CKV_AWS_24/25/277 cover 22, 3389 and all ports)",
        trivy: &["AVD-AWS-0107"],
        check: |s, env| sg_ingress(s, env, PortTest::Database),
    },
    Rule {
        id: "PG-AWS-004",
        severity: High,
        title: "Security group allows all traffic from the internet",
        remediation: "Open only the ports the service needs, from the ranges that need them.",
        types: SG_TYPES,
        checkov: &["CKV_AWS_277"],
        checkov_note: "CKV_AWS_277 fails ingress of protocol -1 (all traffic) from 0.0.0.0/0 or ::/0; TCP 0-65535 passes it",
        trivy: &["AVD-AWS-0107"],
        check: |s, env| sg_ingress(s, env, PortTest::All),
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
        checkov_note: "CKV_AWS_382 fails egress of protocol -1 (all traffic) to 0.0.0.0/0 or ::/0",
        trivy: &["AVD-AWS-0104"],
        check: |s, env| sg_egress(s, env),
    },
    Rule {
        id: "PG-AWS-006",
        severity: High,
        title: "S3 bucket ACL grants public access",
        remediation: "Use the `private` ACL (or no ACL with BucketOwnerEnforced ownership) and share through policies scoped to principals.",
        // Reported on the bucket, as Checkov does: an aws_s3_bucket_acl counts
        // for the bucket its `bucket` refers to.
        types: &["aws_s3_bucket"],
        checkov: &["CKV_AWS_20", "CKV_AWS_57"],
        checkov_note: "CKV_AWS_20 fails a bucket whose ACL (its own or a connected aws_s3_bucket_acl's) is public-read, public-read-write or authenticated-read; CKV_AWS_57 fails public-read-write only",
        trivy: &["AVD-AWS-0092"],
        check: |s, env| {
            let mut out = public_acl(s.node, "the bucket ACL");
            for (address, acl) in companions(s, env, "aws_s3_bucket_acl") {
                out.extend(public_acl(acl, &format!("the ACL of `{address}`")));
            }
            out
        },
    },
    Rule {
        id: "PG-AWS-007",
        severity: High,
        title: "S3 bucket policy allows any principal",
        remediation: "Name the principals in the bucket policy, or add a condition (aws:SourceVpce, aws:PrincipalOrgID).",
        types: &["aws_s3_bucket", "aws_s3_bucket_policy"],
        checkov: &["CKV_AWS_70"],
        checkov_note: "CKV_AWS_70 fails a bucket policy with an Allow statement for Principal \"*\" (or AWS \"*\") and no limiting condition",
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
        checkov_note: "CKV_AWS_53/54/55/56 each fail an aws_s3_bucket_public_access_block whose block_public_acls / block_public_policy / ignore_public_acls / restrict_public_buckets is not true",
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
        // Since January 2023 AWS encrypts every new object with SSE-S3 whatever
        // the configuration (AWS S3 user guide, "Setting default server-side
        // encryption behavior", 2023-01-05): a bucket without a KMS key is
        // encrypted, so this only informs, for policies that ask for KMS.
        severity: Info,
        title: "S3 bucket is encrypted with the S3-managed default key, not a KMS key",
        remediation: "Where a policy asks for KMS (key control, audited decrypts), set sse_algorithm = \"aws:kms\" in the bucket's server-side encryption configuration. Without it AWS still encrypts every object with SSE-S3.",
        types: &["aws_s3_bucket"],
        checkov: &["CKV_AWS_145"],
        checkov_note: "CKV_AWS_145 fails a bucket unless sse_algorithm is aws:kms, on the bucket or a connected aws_s3_bucket_server_side_encryption_configuration (CKV_AWS_19, any encryption, now passes every bucket)",
        trivy: &["AVD-AWS-0132"],
        check: |s, env| {
            // Not configured, the provider computes the block: AWS's default,
            // SSE-S3, unless a companion resource sets a key.
            let sse = s.node.key("server_side_encryption_configuration");
            let mut algos = vec![if sse.is_unknown() { Known::Absent } else { sse_algorithm(sse.first()) }];
            algos.extend(
                companions(s, env, "aws_s3_bucket_server_side_encryption_configuration")
                    .into_iter()
                    .map(|(_, c)| sse_algorithm(c)),
            );
            if algos.contains(&Known::Value("aws:kms")) {
                vec![]
            } else if algos.contains(&Known::Unknown) {
                vec![unknown("sse_algorithm")]
            } else {
                vec![Outcome::Fail("encrypted with SSE-S3 (AES256, AWS's default), not with a KMS key".into())]
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
        checkov_note: "CKV_AWS_21 fails a bucket unless versioning.enabled is true or a connected aws_s3_bucket_versioning has status Enabled",
        trivy: &["AVD-AWS-0090"],
        check: |s, env| {
            // A computed (unconfigured) block is off: a new bucket is
            // unversioned unless a companion resource enables it.
            let v = s.node.key("versioning");
            match v.first().key("enabled").bool() {
                Known::Value(true) => return vec![],
                Known::Unknown if !v.is_unknown() => return vec![unknown("versioning")],
                _ => {}
            }
            let mut out = vec![Outcome::Fail("versioning is off".into())];
            for (_, c) in companions(s, env, "aws_s3_bucket_versioning") {
                match c.key("versioning_configuration").first().key("status").str() {
                    Known::Value("Enabled") => return vec![],
                    Known::Unknown => out = vec![unknown("versioning_configuration.status")],
                    _ => {}
                }
            }
            out
        },
    },
    Rule {
        id: "PG-AWS-011",
        severity: Low,
        title: "S3 bucket access logging is not enabled",
        remediation: "Add a logging block (or aws_s3_bucket_logging) that delivers access logs to a log bucket.",
        types: &["aws_s3_bucket"],
        checkov: &["CKV_AWS_18"],
        checkov_note: "CKV_AWS_18 fails a bucket with no logging block and no connected aws_s3_bucket_logging",
        trivy: &["AVD-AWS-0089"],
        check: |s, env| {
            // A computed (unconfigured) block is off unless a companion logs.
            let l = s.node.key("logging");
            match l.first().key("target_bucket").str() {
                Known::Value(_) => vec![],
                Known::Unknown if !l.is_unknown() => vec![unknown("logging")],
                _ if !companions(s, env, "aws_s3_bucket_logging").is_empty() => vec![],
                _ => vec![Outcome::Fail("access logging is off".into())],
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
        checkov_note: "CKV_AWS_16 fails an aws_db_instance unless storage_encrypted is true (read replicas included; we exempt them: they inherit the source's encryption)",
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
        checkov_note: "CKV_AWS_17 fails when publicly_accessible is true",
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
        checkov_note: "CKV_AWS_133 fails backup_retention_period 0 or above 35; unset passes",
        trivy: &["AVD-AWS-0077"],
        check: |s, _| match s.node.key("backup_retention_period").int() {
            Known::Value(0) => vec![Outcome::Fail("backup_retention_period is 0: no automated backups".into())],
            Known::Unknown => vec![unknown("backup_retention_period")],
            _ => vec![],
        },
    },
    Rule {
        id: "PG-AWS-015",
        // Medium in protected environments; low elsewhere, where a dev
        // database may come and go, but still shown.
        severity: Medium,
        title: "RDS deletion protection is off",
        remediation: "Set deletion_protection = true (required for databases in protected environments).",
        types: &["aws_db_instance", "aws_rds_cluster"],
        checkov: &["CKV_AWS_293", "CKV_AWS_139"],
        checkov_note: "CKV_AWS_293 (aws_db_instance) and CKV_AWS_139 (aws_rds_cluster) fail unless deletion_protection is true; unset fails",
        trivy: &["AVD-AWS-0177"],
        check: |s, env| {
            let out = require_true(s.node, "deletion_protection", false, "deletion_protection is off");
            if env.protected {
                return out;
            }
            out.into_iter()
                .map(|o| match o {
                    Outcome::Fail(m) => Outcome::FailAt(Low, format!("{m} (low: not a protected environment)")),
                    o => o,
                })
                .collect()
        },
    },
    Rule {
        id: "PG-AWS-016",
        severity: High,
        title: "RDS cluster storage is not encrypted",
        remediation: "Set storage_encrypted = true on the cluster.",
        types: &["aws_rds_cluster"],
        checkov: &["CKV_AWS_96"],
        checkov_note: "CKV_AWS_96 fails an aws_rds_cluster unless storage_encrypted is true (serverless engine_mode passes)",
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
        checkov_note: "CKV_AWS_8 fails an instance or launch configuration without root_block_device, or with any root/EBS block device not encrypted (unless it comes from a snapshot)",
        trivy: &["AVD-AWS-0131"],
        check: |s, _| {
            let root = s.node.key("root_block_device");
            // Not configured (absent, or computed by the provider): the root
            // volume is encrypted only if the account encrypts EBS by default.
            if root.is_unknown() || root.items().is_empty() {
                return vec![Outcome::Fail("no root_block_device: the root volume is encrypted only if the account enables EBS encryption by default".into())];
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
        checkov_note: "CKV_AWS_3 fails an aws_ebs_volume unless encrypted is true",
        trivy: &["AVD-AWS-0026"],
        check: |s, _| require_true(s.node, "encrypted", false, "the volume is not encrypted"),
    },
    Rule {
        id: "PG-AWS-019",
        severity: High,
        title: "EC2 instance allows IMDSv1",
        remediation: "Set metadata_options { http_tokens = \"required\" }.",
        types: &["aws_instance", "aws_launch_template", "aws_launch_configuration"],
        checkov: &["CKV_AWS_79"],
        checkov_note: "CKV_AWS_79 fails unless metadata_options sets http_tokens = required or http_endpoint = disabled; no metadata_options fails",
        trivy: &["AVD-AWS-0028"],
        check: |s, _| {
            let m = s.node.key("metadata_options");
            // An instance type without the attribute in its schema (the test
            // cloud's) has no metadata service to protect.
            if !m.exists() {
                return vec![];
            }
            // Not configured: the provider leaves http_tokens `optional`
            // (IMDSv1 allowed) unless the AMI says otherwise.
            if m.is_unknown() || m.items().is_empty() {
                return vec![Outcome::Fail("no metadata_options: IMDSv1 is allowed by default".into())];
            }
            let o = m.first();
            match (o.key("http_tokens").str(), o.key("http_endpoint").str()) {
                (_, Known::Value("disabled")) | (Known::Value("required"), _) => vec![],
                (Known::Unknown, _) => vec![unknown("metadata_options.http_tokens")],
                _ => vec![Outcome::Fail("http_tokens is not `required`: IMDSv1 is reachable".into())],
            }
        },
    },
    // PG-AWS-020 once also flagged `service:*`; that case is PG-AWS-036 now,
    // because Checkov's CKV_AWS_62 means full `*`-on-`*` administrator access.
    Rule {
        id: "PG-AWS-020",
        severity: High,
        title: "IAM policy grants full administrator access",
        remediation: "List the actions and resources the principal needs instead of `Action: *` on `Resource: *`.",
        types: IAM_POLICY_TYPES,
        checkov: &["CKV_AWS_62"],
        checkov_note: "CKV_AWS_62 fails a policy with an Allow statement whose Action and Resource both contain \"*\"",
        trivy: &["AVD-AWS-0057"],
        check: |s, _| {
            iam::with_document(s.node, "policy", |doc| {
                doc.star_actions(true)
                    .into_iter()
                    .map(|sid| Outcome::Fail(format!("statement {sid} allows action `*` on `Resource: *` (full administrator access)")))
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
        checkov_note: "CKV_AWS_355 fails a policy allowing on Resource \"*\" any action that IAM lets you scope to a resource (cloudsplaining's action table); we exempt Describe* and sts:GetCallerIdentity only",
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
        checkov_note: "CKV_AWS_60 fails a role whose trust policy has a non-Deny statement with Principal AWS \"*\"",
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
            "aws_iam_role",
            "aws_iam_role_policy_attachment",
            "aws_iam_user_policy_attachment",
            "aws_iam_group_policy_attachment",
            "aws_iam_policy_attachment",
        ],
        checkov: &["CKV_AWS_274"],
        checkov_note: "CKV_AWS_274 fails an attachment whose policy_arn, or a role whose managed_policy_arns, is arn:aws:iam::aws:policy/AdministratorAccess",
        trivy: &[],
        check: |s, env| {
            if s.resource_type == "aws_iam_role" {
                return match s.node.key("managed_policy_arns").strings() {
                    Known::Value(arns) => arns
                        .into_iter()
                        .filter(|a| a.ends_with(ADMIN_POLICY))
                        .map(|a| Outcome::Fail(format!("the role's managed_policy_arns include `{a}`")))
                        .collect(),
                    Known::Unknown => vec![unknown("managed_policy_arns")],
                    Known::Absent => vec![],
                };
            }
            // Who gets it, by the configuration's reference when there is one.
            let to = ["role", "user", "group", "roles", "users", "groups"]
                .iter()
                .find_map(|a| env.refers(s.address, a).and_then(|t| t.first()))
                .map(|t| format!(" to `{t}`"))
                .unwrap_or_default();
            match s.node.key("policy_arn").str() {
                Known::Value(arn) if arn.ends_with(ADMIN_POLICY) => {
                    vec![Outcome::Fail(format!("attaches `{arn}`{to}"))]
                }
                // An ARN known after apply that refers to a policy created in
                // this plan is a customer-managed policy, not the AWS one.
                Known::Unknown
                    if env
                        .refers(s.address, "policy_arn")
                        .is_some_and(|t| t.iter().any(|p| p.contains("aws_iam_policy."))) =>
                {
                    vec![]
                }
                Known::Unknown => vec![unknown("policy_arn")],
                _ => vec![],
            }
        },
    },
    Rule {
        id: "PG-AWS-024",
        severity: Critical,
        title: "Hard-coded secret in EC2 user data",
        remediation: "Fetch secrets at boot from Secrets Manager or SSM Parameter Store using the instance role; rotate the exposed secret.",
        types: &["aws_instance", "aws_launch_template", "aws_launch_configuration"],
        checkov: &["CKV_AWS_46"],
        checkov_note: "CKV_AWS_46 fails user_data containing an AWS access key or secret key pattern",
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
        checkov_note: "CKV_AWS_45 fails Lambda environment variables containing AWS or general secret patterns",
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
        checkov_note: "No Checkov terraform_plan check reads ECS container environment values for secrets",
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
        checkov_note: "CKV_AWS_67 fails unless is_multi_region_trail is true",
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
        checkov_note: "CKV_AWS_36 fails unless enable_log_file_validation is true",
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
        checkov_note: "CKV2_AWS_11 fails a VPC with no connected aws_flow_log (connected through the flow log's vpc_id reference)",
        trivy: &["AVD-AWS-0178"],
        check: |s, env| {
            // A new VPC's id is known only after apply: the configuration's
            // reference says which VPC a flow log's vpc_id names.
            let covered = env
                .others_with_address("aws_flow_log")
                .any(|f| env.points_at(f, "vpc_id", (s.address, s.node), "id"));
            if covered {
                vec![]
            } else {
                vec![Outcome::Fail("no aws_flow_log in this plan refers to this VPC".into())]
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
        checkov_note: "CKV_AWS_26 fails an SNS topic without kms_master_key_id",
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
        checkov_note: "CKV_AWS_27 fails a queue unless sqs_managed_sse_enabled is true or kms_master_key_id is set",
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
        checkov_note: "CKV_AWS_28 fails unless point_in_time_recovery.enabled is true",
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
        checkov_note: "CKV_AWS_130 fails when map_public_ip_on_launch is true",
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
        checkov_note: "No Checkov check: a literal, unmasked master password is a plan-level fact",
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
    Rule {
        id: "PG-AWS-035",
        severity: High,
        title: "IAM policy allows every action",
        remediation: "List the actions the principal needs instead of `Action: *`, even on named resources.",
        types: IAM_POLICY_TYPES,
        checkov: &["CKV_AWS_63"],
        checkov_note: "CKV_AWS_63 fails a policy with an Allow statement whose Action contains \"*\", whatever its Resource",
        trivy: &["AVD-AWS-0057"],
        check: |s, _| {
            iam::with_document(s.node, "policy", |doc| {
                doc.star_actions(false)
                    .into_iter()
                    .map(|sid| Outcome::Fail(format!("statement {sid} allows action `*`")))
                    .collect()
            })
        },
    },
    // Trivy rates this high under AVD-AWS-0057 with the other wildcards; a
    // whole service on named resources is often deliberate (a bucket's
    // owner), so medium.
    Rule {
        id: "PG-AWS-036",
        severity: Medium,
        title: "IAM policy allows every action of a service",
        remediation: "List the service's actions the principal needs instead of `service:*`.",
        types: IAM_POLICY_TYPES,
        checkov: &[],
        checkov_note: "No one Checkov check: CKV_AWS_286-290 (cloudsplaining) expand actions and fail by what they permit on `Resource: *` (privilege escalation, credential exposure, exfiltration, permissions management, unconstrained write), with or without a wildcard",
        trivy: &["AVD-AWS-0057"],
        check: |s, _| {
            iam::with_document(s.node, "policy", |doc| {
                doc.service_wildcards()
                    .into_iter()
                    .map(|(sid, action)| Outcome::Fail(format!("statement {sid} allows every action of the service: `{action}`")))
                    .collect()
            })
        },
    },
];

const ADMIN_POLICY: &str = ":policy/AdministratorAccess";

const IAM_POLICY_TYPES: &[&str] = &[
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
];

/// The companion resources (aws_s3_bucket_versioning, ...) in the plan that
/// configure this bucket: those whose `bucket` refers to it, or names it.
fn companions<'e>(s: &Subject, env: &'e Env, companion: &str) -> Vec<(&'e str, Node<'e>)> {
    env.others_with_address(companion)
        .filter(|c| env.points_at(*c, "bucket", (s.address, s.node), "bucket"))
        .collect()
}

fn public_acl(n: Node, what: &str) -> Vec<Outcome> {
    match n.key("acl").str() {
        Known::Value(acl @ ("public-read" | "public-read-write" | "authenticated-read")) => {
            vec![Outcome::Fail(format!("{what} is `{acl}`"))]
        }
        Known::Unknown => vec![unknown("acl")],
        _ => vec![],
    }
}

/// The default algorithm of a server-side encryption configuration block.
fn sse_algorithm(n: Node<'_>) -> Known<&str> {
    n.key("rule")
        .first()
        .key("apply_server_side_encryption_by_default")
        .first()
        .key("sse_algorithm")
        .str()
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

fn sg_rules<'a>(s: &Subject<'a>, env: &Env) -> Result<Vec<SgRule<'a>>, Outcome> {
    let mut out = Vec::new();
    // A standalone rule names its group by the configuration's reference.
    let rule_label = match env
        .refers(s.address, "security_group_id")
        .and_then(|t| t.first())
    {
        Some(group) => format!("the rule (on `{group}`)"),
        None => "the rule".to_string(),
    };
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
                label: rule_label.clone(),
                node: s.node,
                egress,
                ipv4_key: "cidr_blocks",
                ipv6_key: "ipv6_cidr_blocks",
                proto_key: "protocol",
            });
        }
        t => out.push(SgRule {
            label: rule_label.clone(),
            node: s.node,
            egress: t.ends_with("egress_rule"),
            ipv4_key: "cidr_ipv4",
            ipv6_key: "cidr_ipv6",
            proto_key: "ip_protocol",
        }),
    }
    Ok(out)
}

/// `(ports, source, every protocol)` of a rule open to the world.
type WorldPorts = (Ports, String, bool);

/// The ports a rule opens to the world, or why that is not known yet.
fn world_ports(r: &SgRule) -> Result<Option<WorldPorts>, Outcome> {
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
        return Ok(Some((Ports::ALL, src, true)));
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
    Ok(Some((ports, src, false)))
}

fn sg_ingress(s: &Subject, env: &Env, test: PortTest) -> Vec<Outcome> {
    let rules = match sg_rules(s, env) {
        Ok(r) => r,
        Err(o) => return vec![o],
    };
    let mut out = Vec::new();
    for r in rules.iter().filter(|r| !r.egress) {
        match world_ports(r) {
            // "All ports" means all traffic (protocol -1), as CKV_AWS_277 has
            // it; TCP 0-65535 still meets the SSH, RDP and database rules.
            Ok(Some((_, _, false))) if matches!(test, PortTest::All) => {}
            Ok(Some((ports, src, _))) => {
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

fn sg_egress(s: &Subject, env: &Env) -> Vec<Outcome> {
    let rules = match sg_rules(s, env) {
        Ok(r) => r,
        Err(o) => return vec![o],
    };
    let mut out = Vec::new();
    for r in rules.iter().filter(|r| r.egress) {
        match world_ports(r) {
            Ok(Some((ports, src, true))) if ports.is_all() => {
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
