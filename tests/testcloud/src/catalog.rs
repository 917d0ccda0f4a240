//! The catalog of emulated resource types: each type's schema and the rules that give it an
//! AWS-like life cycle (which attribute names it, which attributes force a replacement, the
//! defaults the "cloud" fills in at plan time and the attributes it computes at create time).

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock,
};
use tf_provider::value::ValueAny;

/// The fake AWS account every ARN belongs to.
pub const ACCOUNT_ID: &str = "123456789012";

/// A value the cloud fills in at plan time when the configuration leaves an attribute unset.
#[derive(Debug, Clone, Copy)]
pub enum Fill {
    Str(&'static str),
    Bool(bool),
}

impl Fill {
    pub fn value(self) -> ValueAny {
        match self {
            Fill::Str(s) => ValueAny::String(s.to_owned()),
            Fill::Bool(b) => ValueAny::Bool(b),
        }
    }
}

/// How the cloud shapes the `id` of a new resource.
#[derive(Debug, Clone, Copy)]
pub enum IdScheme {
    /// The id is the value of the naming attribute (S3 buckets, RDS instances).
    Name,
    /// The id is the ARN (IAM policies).
    Arn,
    /// The id is a prefix and 17 hex digits (`sg-…`, `i-…`, `vol-…`).
    Prefixed(&'static str),
}

/// Everything testcloud knows about one resource type.
#[derive(Debug, Clone)]
pub struct TypeSpec {
    /// Type name without the `aws_` prefix that tf-provider adds.
    pub short_name: &'static str,
    /// The attribute that names the resource, checked for the `fail-apply` failure trigger.
    pub name_attr: Option<&'static str>,
    pub id_scheme: IdScheme,
    /// Attributes whose change cannot be applied in place: changing one plans a replacement.
    pub immutable: &'static [&'static str],
    /// Values filled in at plan time for optional+computed attributes left unset.
    pub defaults: &'static [(&'static str, Fill)],
    /// Attributes computed by the cloud (unknown until apply); `id` is always among them.
    pub computed: &'static [&'static str],
    pub block: fn() -> Block,
}

impl TypeSpec {
    pub fn type_name(&self) -> String {
        format!("aws_{}", self.short_name)
    }
}

/// All resource types the provider serves.
pub fn all() -> Vec<TypeSpec> {
    vec![
        TypeSpec {
            short_name: "s3_bucket",
            name_attr: Some("bucket"),
            id_scheme: IdScheme::Name,
            immutable: &["bucket"],
            defaults: &[("acl", Fill::Str("private"))],
            computed: &["id", "arn", "bucket_domain_name"],
            block: s3_bucket,
        },
        TypeSpec {
            short_name: "security_group",
            name_attr: Some("name"),
            id_scheme: IdScheme::Prefixed("sg-"),
            immutable: &["name", "vpc_id"],
            defaults: &[("description", Fill::Str("Managed by Terraform"))],
            computed: &["id", "arn", "owner_id"],
            block: security_group,
        },
        TypeSpec {
            short_name: "instance",
            name_attr: None,
            id_scheme: IdScheme::Prefixed("i-"),
            immutable: &["ami", "subnet_id"],
            defaults: &[],
            computed: &["id", "arn", "private_ip", "instance_state"],
            block: instance,
        },
        TypeSpec {
            short_name: "db_instance",
            name_attr: Some("identifier"),
            id_scheme: IdScheme::Name,
            immutable: &["identifier", "engine"],
            defaults: &[
                ("storage_type", Fill::Str("gp2")),
                ("storage_encrypted", Fill::Bool(false)),
                ("publicly_accessible", Fill::Bool(false)),
                ("multi_az", Fill::Bool(false)),
                ("deletion_protection", Fill::Bool(false)),
            ],
            computed: &["id", "arn", "address", "endpoint"],
            block: db_instance,
        },
        TypeSpec {
            short_name: "iam_policy",
            name_attr: Some("name"),
            id_scheme: IdScheme::Arn,
            immutable: &["name", "path"],
            defaults: &[("path", Fill::Str("/"))],
            computed: &["id", "arn", "policy_id"],
            block: iam_policy,
        },
        TypeSpec {
            short_name: "nat_gateway",
            name_attr: None,
            id_scheme: IdScheme::Prefixed("nat-"),
            immutable: &["subnet_id", "allocation_id", "connectivity_type"],
            defaults: &[("connectivity_type", Fill::Str("public"))],
            computed: &["id", "public_ip", "private_ip", "network_interface_id"],
            block: nat_gateway,
        },
        TypeSpec {
            short_name: "ebs_volume",
            name_attr: None,
            id_scheme: IdScheme::Prefixed("vol-"),
            immutable: &["availability_zone", "encrypted", "kms_key_id"],
            defaults: &[("type", Fill::Str("gp2")), ("encrypted", Fill::Bool(false))],
            computed: &["id", "arn"],
            block: ebs_volume,
        },
    ]
}

fn attr(attr_type: AttributeType, constraint: AttributeConstraint, doc: &str) -> Attribute {
    Attribute {
        attr_type,
        description: Description::plain(doc),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

fn required(attr_type: AttributeType, doc: &str) -> Attribute {
    attr(attr_type, AttributeConstraint::Required, doc)
}

fn optional(attr_type: AttributeType, doc: &str) -> Attribute {
    attr(attr_type, AttributeConstraint::Optional, doc)
}

fn defaulted(attr_type: AttributeType, doc: &str) -> Attribute {
    attr(attr_type, AttributeConstraint::OptionalComputed, doc)
}

fn computed(doc: &str) -> Attribute {
    attr(AttributeType::String, AttributeConstraint::Computed, doc)
}

fn string_list() -> AttributeType {
    AttributeType::List(Box::new(AttributeType::String))
}

fn tags() -> Attribute {
    optional(
        AttributeType::Map(Box::new(AttributeType::String)),
        "Key-value tags",
    )
}

fn block(doc: &str, attributes: Vec<(&str, Attribute)>, blocks: Vec<(&str, NestedBlock)>) -> Block {
    Block {
        version: 1,
        attributes: to_map(attributes),
        blocks: to_map(blocks),
        description: Description::plain(doc),
        deprecated: false,
    }
}

fn to_map<T>(items: Vec<(&str, T)>) -> HashMap<String, T> {
    items.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn s3_bucket() -> Block {
    let sse_default = block(
        "Default encryption applied to new objects",
        vec![
            (
                "sse_algorithm",
                required(AttributeType::String, "AES256 or aws:kms"),
            ),
            (
                "kms_master_key_id",
                optional(AttributeType::String, "KMS key for aws:kms"),
            ),
        ],
        vec![],
    );
    let rule = block(
        "Encryption rule",
        vec![(
            "bucket_key_enabled",
            optional(AttributeType::Bool, "Use an S3 bucket key"),
        )],
        vec![(
            "apply_server_side_encryption_by_default",
            NestedBlock::Optional(sse_default),
        )],
    );
    let sse = block(
        "Server-side encryption",
        vec![],
        vec![("rule", NestedBlock::Optional(rule))],
    );
    let versioning = block(
        "Object versioning",
        vec![
            (
                "enabled",
                optional(AttributeType::Bool, "Keep object versions"),
            ),
            (
                "mfa_delete",
                optional(AttributeType::Bool, "Require MFA to delete"),
            ),
        ],
        vec![],
    );
    block(
        "An S3 bucket",
        vec![
            ("id", computed("The bucket name")),
            ("arn", computed("The bucket ARN")),
            ("bucket_domain_name", computed("The bucket's DNS name")),
            (
                "bucket",
                required(
                    AttributeType::String,
                    "Bucket name; changing it replaces the bucket",
                ),
            ),
            (
                "acl",
                defaulted(AttributeType::String, "Canned ACL, `private` by default"),
            ),
            (
                "force_destroy",
                optional(AttributeType::Bool, "Delete objects on destroy"),
            ),
            ("tags", tags()),
        ],
        vec![
            ("versioning", NestedBlock::Optional(versioning)),
            (
                "server_side_encryption_configuration",
                NestedBlock::Optional(sse),
            ),
        ],
    )
}

fn security_group() -> Block {
    let rule = || {
        block(
            "A traffic rule",
            vec![
                ("from_port", required(AttributeType::Number, "First port")),
                ("to_port", required(AttributeType::Number, "Last port")),
                (
                    "protocol",
                    required(AttributeType::String, "tcp, udp, icmp or -1"),
                ),
                ("cidr_blocks", optional(string_list(), "IPv4 ranges")),
                ("ipv6_cidr_blocks", optional(string_list(), "IPv6 ranges")),
                (
                    "description",
                    optional(AttributeType::String, "What the rule is for"),
                ),
            ],
            vec![],
        )
    };
    block(
        "A VPC security group",
        vec![
            ("id", computed("The group id (sg-…)")),
            ("arn", computed("The group ARN")),
            ("owner_id", computed("The owning account")),
            (
                "name",
                required(
                    AttributeType::String,
                    "Group name; changing it replaces the group",
                ),
            ),
            (
                "description",
                defaulted(AttributeType::String, "Group description"),
            ),
            (
                "vpc_id",
                optional(AttributeType::String, "VPC of the group"),
            ),
            ("tags", tags()),
        ],
        vec![
            ("ingress", NestedBlock::List(rule())),
            ("egress", NestedBlock::List(rule())),
        ],
    )
}

fn instance() -> Block {
    let root = block(
        "The root volume",
        vec![
            (
                "volume_type",
                optional(AttributeType::String, "gp2, gp3, io1…"),
            ),
            (
                "volume_size",
                optional(AttributeType::Number, "Size in GiB"),
            ),
            (
                "encrypted",
                optional(AttributeType::Bool, "Encrypt the volume"),
            ),
            (
                "delete_on_termination",
                optional(AttributeType::Bool, "Delete with the instance"),
            ),
        ],
        vec![],
    );
    block(
        "An EC2 instance",
        vec![
            ("id", computed("The instance id (i-…)")),
            ("arn", computed("The instance ARN")),
            ("private_ip", computed("Private IPv4 address")),
            ("instance_state", computed("running, stopped…")),
            (
                "ami",
                required(
                    AttributeType::String,
                    "Image; changing it replaces the instance",
                ),
            ),
            (
                "instance_type",
                required(AttributeType::String, "Instance size, e.g. t3.micro"),
            ),
            ("user_data", optional(AttributeType::String, "Boot script")),
            (
                "subnet_id",
                optional(AttributeType::String, "Subnet to launch in"),
            ),
            (
                "vpc_security_group_ids",
                optional(string_list(), "Security groups"),
            ),
            (
                "associate_public_ip_address",
                optional(AttributeType::Bool, "Give it a public IP"),
            ),
            (
                "monitoring",
                optional(AttributeType::Bool, "Detailed monitoring"),
            ),
            ("tags", tags()),
        ],
        vec![("root_block_device", NestedBlock::Optional(root))],
    )
}

fn db_instance() -> Block {
    let mut password = optional(AttributeType::String, "Master password");
    password.sensitive = true;
    block(
        "An RDS database instance",
        vec![
            ("id", computed("The instance identifier")),
            ("arn", computed("The instance ARN")),
            ("address", computed("DNS name of the instance")),
            ("endpoint", computed("address:port")),
            (
                "identifier",
                required(
                    AttributeType::String,
                    "Name; changing it replaces the database",
                ),
            ),
            (
                "engine",
                required(
                    AttributeType::String,
                    "postgres, mysql…; changing it replaces the database",
                ),
            ),
            (
                "engine_version",
                optional(AttributeType::String, "Engine version"),
            ),
            (
                "instance_class",
                required(AttributeType::String, "Size, e.g. db.t3.micro"),
            ),
            (
                "allocated_storage",
                required(AttributeType::Number, "Storage in GiB"),
            ),
            (
                "storage_type",
                defaulted(AttributeType::String, "gp2 by default"),
            ),
            (
                "storage_encrypted",
                defaulted(AttributeType::Bool, "Encrypt storage; false by default"),
            ),
            (
                "publicly_accessible",
                defaulted(
                    AttributeType::Bool,
                    "Reachable from the internet; false by default",
                ),
            ),
            (
                "multi_az",
                defaulted(
                    AttributeType::Bool,
                    "Standby in another zone; false by default",
                ),
            ),
            (
                "deletion_protection",
                defaulted(AttributeType::Bool, "Refuse deletion; false by default"),
            ),
            (
                "backup_retention_period",
                optional(AttributeType::Number, "Days of backups"),
            ),
            (
                "skip_final_snapshot",
                optional(AttributeType::Bool, "No snapshot on delete"),
            ),
            ("username", optional(AttributeType::String, "Master user")),
            ("password", password),
            (
                "vpc_security_group_ids",
                optional(string_list(), "Security groups"),
            ),
            ("tags", tags()),
        ],
        vec![],
    )
}

fn iam_policy() -> Block {
    block(
        "An IAM managed policy",
        vec![
            ("id", computed("The policy ARN")),
            ("arn", computed("The policy ARN")),
            ("policy_id", computed("The policy's unique id")),
            (
                "name",
                required(
                    AttributeType::String,
                    "Name; changing it replaces the policy",
                ),
            ),
            (
                "path",
                defaulted(AttributeType::String, "Path, `/` by default"),
            ),
            (
                "description",
                optional(AttributeType::String, "What the policy is for"),
            ),
            (
                "policy",
                required(AttributeType::String, "The policy document (JSON)"),
            ),
            ("tags", tags()),
        ],
        vec![],
    )
}

fn nat_gateway() -> Block {
    block(
        "A NAT gateway",
        vec![
            ("id", computed("The gateway id (nat-…)")),
            ("public_ip", computed("Public IPv4 address")),
            ("private_ip", computed("Private IPv4 address")),
            ("network_interface_id", computed("Its network interface")),
            (
                "subnet_id",
                required(
                    AttributeType::String,
                    "Subnet; changing it replaces the gateway",
                ),
            ),
            (
                "allocation_id",
                optional(AttributeType::String, "Elastic IP allocation"),
            ),
            (
                "connectivity_type",
                defaulted(AttributeType::String, "public or private"),
            ),
            ("tags", tags()),
        ],
        vec![],
    )
}

fn ebs_volume() -> Block {
    block(
        "An EBS volume",
        vec![
            ("id", computed("The volume id (vol-…)")),
            ("arn", computed("The volume ARN")),
            (
                "availability_zone",
                required(
                    AttributeType::String,
                    "Zone; changing it replaces the volume",
                ),
            ),
            ("size", optional(AttributeType::Number, "Size in GiB")),
            ("type", defaulted(AttributeType::String, "gp2 by default")),
            ("iops", optional(AttributeType::Number, "Provisioned IOPS")),
            (
                "throughput",
                optional(AttributeType::Number, "Throughput in MiB/s (gp3)"),
            ),
            (
                "encrypted",
                defaulted(AttributeType::Bool, "Encrypt the volume; false by default"),
            ),
            (
                "kms_key_id",
                optional(AttributeType::String, "KMS key for encryption"),
            ),
            ("tags", tags()),
        ],
        vec![],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_computed_immutable_and_defaulted_attribute_is_in_the_schema() {
        for spec in all() {
            let block = (spec.block)();
            let names = spec
                .computed
                .iter()
                .chain(spec.immutable)
                .chain(spec.defaults.iter().map(|(n, _)| n))
                .chain(spec.name_attr.iter());
            for name in names {
                assert!(
                    block.attributes.contains_key(*name),
                    "{}: `{name}` is not in the schema",
                    spec.type_name()
                );
            }
            assert!(
                spec.computed.contains(&"id"),
                "{} has no id",
                spec.type_name()
            );
        }
    }

    #[test]
    fn only_the_db_password_is_sensitive() {
        let sensitive: Vec<String> = all()
            .iter()
            .flat_map(|spec| {
                (spec.block)()
                    .attributes
                    .into_iter()
                    .filter(|(_, a)| a.sensitive)
                    .map(move |(n, _)| format!("{}.{n}", spec.type_name()))
            })
            .collect();
        assert_eq!(sensitive, vec!["aws_db_instance.password".to_owned()]);
    }
}
