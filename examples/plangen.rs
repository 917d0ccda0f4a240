//! Writes a synthetic but realistic `terraform show -json` plan for the
//! benchmarks (`scripts/bench.sh`): never committed, regenerated each run.
//!
//! `cargo run --release --example plangen -- <resources> <file>`
//!
//! What it holds, so the pipeline meets what real plans carry:
//! - AWS, Google and Azure resource types (about 60/20/20);
//! - creates, updates, replaces (both orders) and deletes, plus no-ops;
//! - resources in nested modules with `count` and `for_each` keys;
//! - sensitive values (passwords, keys) with `*_sensitive` marks, and
//!   unknown values (`id`, `arn`, …) in `after_unknown`;
//! - large attribute values: multi-KiB `user_data` scripts and IAM policy
//!   documents;
//! - `planned_values`, `prior_state` and `configuration` with expressions
//!   and references, as Terraform writes them (phasegate skips most of it,
//!   but a parser must still read past it).
//!
//! The output is deterministic: the same count gives the same bytes.

use serde_json::{json, Map, Value};

/// A small deterministic generator (splitmix64), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One resource kind: its type, provider, and how to make its attributes.
struct Kind {
    ty: &'static str,
    provider: &'static str,
    make: fn(&mut Rng, usize, u32) -> Value,
}

const AWS: &str = "registry.terraform.io/hashicorp/aws";
const GOOGLE: &str = "registry.terraform.io/hashicorp/google";
const AZURE: &str = "registry.terraform.io/hashicorp/azurerm";

fn user_data(i: usize, version: u32, lines: usize) -> String {
    let mut s = String::from("#!/bin/bash\nset -euo pipefail\n");
    for l in 0..lines {
        s.push_str(&format!(
            "echo 'configuring node {i} step {l} (release {version})' >> /var/log/bootstrap.log\n"
        ));
    }
    s
}

fn policy(i: usize, version: u32, statements: usize) -> String {
    let st: Vec<Value> = (0..statements)
        .map(|s| {
            json!({"Sid": format!("Stmt{s}"), "Effect": "Allow",
                   "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                   "Resource": [format!("arn:aws:s3:::bucket-{i}-{s}/*"), format!("arn:aws:s3:::bucket-{i}-{s}")],
                   "Condition": {"StringEquals": {"aws:RequestTag/release": format!("r{version}")}}})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": st}).to_string()
}

fn tags(i: usize, version: u32) -> Value {
    json!({"team": format!("team-{}", i % 17), "env": "prod", "release": format!("r{version}"), "cost-center": format!("cc-{}", i % 5)})
}

const KINDS: &[Kind] = &[
    Kind {
        ty: "aws_instance",
        provider: AWS,
        make: |r, i, v| {
            json!({
        "ami": format!("ami-{:08x}", 0x1234 + v), "instance_type": (["t3.micro", "m5.large", "c6i.xlarge"][i % 3]),
        "subnet_id": format!("subnet-{:06x}", i % 97), "user_data": user_data(i, v, 20 + r.below(40) as usize),
        "vpc_security_group_ids": [format!("sg-{:06x}", i % 31)], "monitoring": i % 2 == 0,
        "root_block_device": [{"volume_size": 20 + (i % 5) * 10, "volume_type": "gp3", "encrypted": true}],
        "tags": tags(i, v)})
        },
    },
    Kind {
        ty: "aws_s3_bucket",
        provider: AWS,
        make: |_, i, v| {
            json!({
        "bucket": format!("org-data-{i}"), "force_destroy": false, "tags": tags(i, v)})
        },
    },
    Kind {
        ty: "aws_security_group",
        provider: AWS,
        make: |r, i, v| {
            json!({
        "name": format!("sg-{i}"), "description": "managed by terraform", "vpc_id": format!("vpc-{:06x}", i % 7),
        "ingress": (0..1 + r.below(4)).map(|k| json!({"from_port": 443 + k, "to_port": 443 + k, "protocol": "tcp",
            "cidr_blocks": [format!("10.{}.0.0/16", (i + k as usize) % 250)], "ipv6_cidr_blocks": [], "prefix_list_ids": [],
            "security_groups": [], "self": false, "description": format!("rule {k}")})).collect::<Vec<_>>(),
        "egress": [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [],
            "prefix_list_ids": [], "security_groups": [], "self": false, "description": ""}],
        "tags": tags(i, v)})
        },
    },
    Kind {
        ty: "aws_iam_role_policy",
        provider: AWS,
        make: |r, i, v| {
            json!({
        "name": format!("policy-{i}"), "role": format!("role-{}", i % 50), "policy": policy(i, v, 2 + r.below(10) as usize)})
        },
    },
    Kind {
        ty: "aws_db_instance",
        provider: AWS,
        make: |_, i, v| {
            json!({
        "identifier": format!("db-{i}"), "engine": "postgres", "engine_version": format!("15.{}", v % 8), "instance_class": "db.r6g.large",
        "allocated_storage": 100, "username": "app", "password": format!("pw-{i}-{v}-Xy9!"), "storage_encrypted": true,
        "backup_retention_period": 7, "multi_az": i % 2 == 0, "tags": tags(i, v)})
        },
    },
    Kind {
        ty: "aws_lambda_function",
        provider: AWS,
        make: |_, i, v| {
            json!({
        "function_name": format!("fn-{i}"), "runtime": "python3.12", "handler": "main.handler", "memory_size": 256,
        "environment": [{"variables": {"LOG_LEVEL": "info", "API_KEY": format!("key-{i}-{v}"), "RELEASE": format!("r{v}")}}],
        "tags": tags(i, v)})
        },
    },
    Kind {
        ty: "aws_route53_record",
        provider: AWS,
        make: |_, i, v| {
            json!({
        "zone_id": "Z0123456789", "name": format!("svc-{i}.example.com"), "type": "CNAME", "ttl": 300 + v,
        "records": [format!("lb-{i}.elb.amazonaws.com")]})
        },
    },
    Kind {
        ty: "google_compute_instance",
        provider: GOOGLE,
        make: |r, i, v| {
            json!({
        "name": format!("vm-{i}"), "machine_type": (["e2-small", "n2-standard-4"][i % 2]), "zone": "europe-west1-b",
        "metadata_startup_script": user_data(i, v, 10 + r.below(30) as usize),
        "boot_disk": [{"initialize_params": [{"image": "debian-cloud/debian-12", "size": 20}]}],
        "network_interface": [{"network": "default", "access_config": []}], "labels": {"release": format!("r{v}")}})
        },
    },
    Kind {
        ty: "google_storage_bucket",
        provider: GOOGLE,
        make: |_, i, v| {
            json!({
        "name": format!("gcs-{i}"), "location": "EU", "uniform_bucket_level_access": true,
        "versioning": [{"enabled": v % 2 == 0}], "labels": {"release": format!("r{v}")}})
        },
    },
    Kind {
        ty: "azurerm_storage_account",
        provider: AZURE,
        make: |_, i, v| {
            json!({
        "name": format!("stacct{i}"), "resource_group_name": format!("rg-{}", i % 9), "location": "westeurope",
        "account_tier": "Standard", "account_replication_type": (["LRS", "GRS"][(v % 2) as usize]),
        "min_tls_version": "TLS1_2", "tags": tags(i, v)})
        },
    },
    Kind {
        ty: "azurerm_linux_virtual_machine",
        provider: AZURE,
        make: |r, i, v| {
            json!({
        "name": format!("avm-{i}"), "resource_group_name": format!("rg-{}", i % 9), "location": "westeurope",
        "size": "Standard_D2s_v5", "admin_username": "azureuser", "admin_password": format!("Az-{i}-{v}-pw!"),
        "custom_data": user_data(i, v, 5 + r.below(20) as usize), "tags": tags(i, v)})
        },
    },
];

/// Which kind, weighted: AWS about 60%, Google and Azure about 20% each.
fn pick(r: &mut Rng) -> &'static Kind {
    let n = r.below(100);
    match n {
        0..=11 => &KINDS[0],
        12..=21 => &KINDS[1],
        22..=31 => &KINDS[2],
        32..=41 => &KINDS[3],
        42..=45 => &KINDS[4],
        46..=52 => &KINDS[5],
        53..=59 => &KINDS[6],
        60..=69 => &KINDS[7],
        70..=79 => &KINDS[8],
        80..=89 => &KINDS[9],
        _ => &KINDS[10],
    }
}

/// Terraform's sensitivity tree for the attributes a kind marks sensitive.
fn sensitive_of(values: &Value) -> Value {
    let mut m = Map::new();
    if let Some(obj) = values.as_object() {
        for key in ["password", "admin_password"] {
            if obj.contains_key(key) {
                m.insert(key.into(), json!(true));
            }
        }
        if obj.contains_key("environment") {
            m.insert(
                "environment".into(),
                json!([{"variables": {"API_KEY": true}}]),
            );
        }
    }
    Value::Object(m)
}

struct Resource {
    address: String,
    module: Option<String>,
    kind: &'static Kind,
    name: String,
    index: Value,
    actions: Value,
    before: Value,
    after: Value,
}

fn generate(count: usize) -> Value {
    let mut r = Rng(0x5eed_0000 + count as u64);
    let mut resources = Vec::with_capacity(count);
    for i in 0..count {
        let kind = pick(&mut r);
        // About a third at the root, the rest one or two modules deep.
        let module = match r.below(3) {
            0 => None,
            1 => Some(format!("module.svc[\"svc-{}\"]", i % 40)),
            _ => Some(format!(
                "module.region[\"{}\"].module.app[{}]",
                ["eu-west-1", "us-east-1", "ap-south-1"][i % 3],
                i % 8
            )),
        };
        let name = format!("r{}", i / 50);
        let index = if i % 2 == 0 {
            json!(i % 50)
        } else {
            json!(format!("k{}", i % 50))
        };
        let key = match &index {
            Value::String(s) => format!("[\"{s}\"]"),
            other => format!("[{other}]"),
        };
        let local = format!("{}.{}{}", kind.ty, name, key);
        let address = match &module {
            Some(m) => format!("{m}.{local}"),
            None => local,
        };
        let a = r.below(100);
        let actions = match a {
            0..=44 => json!(["create"]),
            45..=74 => json!(["update"]),
            75..=82 => json!(["delete", "create"]),
            83..=85 => json!(["create", "delete"]),
            86..=92 => json!(["delete"]),
            _ => json!(["no-op"]),
        };
        let old = (kind.make)(&mut r, i, 1);
        let new = (kind.make)(&mut r, i, 2);
        let (before, after) = match a {
            0..=44 => (Value::Null, new),
            86..=92 => (old, Value::Null),
            93.. => (old.clone(), old),
            _ => (old, new),
        };
        resources.push(Resource {
            address,
            module,
            kind,
            name,
            index,
            actions,
            before,
            after,
        });
    }
    plan(&resources)
}

fn with_id(values: &Value, address: &str) -> Value {
    let mut v = values.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(format!("id-{:x}", fxhash(address))));
        o.insert("arn".into(), json!(format!("arn:aws:svc:::{address}")));
    }
    v
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn plan(resources: &[Resource]) -> Value {
    let mut changes = Vec::new();
    let mut planned: Vec<Value> = Vec::new();
    let mut prior: Vec<Value> = Vec::new();
    let mut config: Vec<Value> = Vec::new();
    for (n, res) in resources.iter().enumerate() {
        let before = if res.before.is_null() {
            Value::Null
        } else {
            with_id(&res.before, &res.address)
        };
        let after = res.after.clone();
        let after_unknown = if after.is_null() {
            json!(false)
        } else {
            json!({"id": true, "arn": true})
        };
        let mut change = json!({
            "actions": res.actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown,
            "before_sensitive": if res.before.is_null() { json!(false) } else { sensitive_of(&res.before) },
            "after_sensitive": if res.after.is_null() { json!(false) } else { sensitive_of(&res.after) },
        });
        if res.actions.as_array().is_some_and(|a| a.len() == 2) {
            change["replace_paths"] = json!([["name"]]);
        }
        let mut rc = json!({
            "address": res.address,
            "mode": "managed",
            "type": res.kind.ty,
            "name": res.name,
            "index": res.index,
            "provider_name": res.kind.provider,
            "change": change,
        });
        if let Some(m) = &res.module {
            rc["module_address"] = json!(m);
        }
        if res.actions.as_array().is_some_and(|a| a.len() == 2) {
            rc["action_reason"] = json!("replace_because_cannot_update");
        }
        changes.push(rc);
        let state = |values: &Value| {
            json!({"address": res.address, "mode": "managed", "type": res.kind.ty, "name": res.name,
                   "index": res.index, "provider_name": res.kind.provider, "schema_version": 1,
                   "values": values, "sensitive_values": sensitive_of(values)})
        };
        if !res.after.is_null() {
            planned.push(state(&res.after));
        }
        if !res.before.is_null() {
            prior.push(state(&with_id(&res.before, &res.address)));
        }
        // One configuration block per resource name, with a reference to
        // the previous resource (as `subnet_id = aws_subnet.x.id` would be).
        if n % 50 == 0 {
            config.push(json!({
                "address": format!("{}.{}", res.kind.ty, res.name),
                "mode": "managed", "type": res.kind.ty, "name": res.name,
                "provider_config_key": res.kind.provider.rsplit('/').next().unwrap_or("aws"),
                "expressions": {"name": {"constant_value": res.name},
                                "tags": {"references": [format!("local.tags_{}", n % 7), "local"]}},
                "schema_version": 1,
                "count_expression": {"constant_value": 50}
            }));
        }
    }
    json!({
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "variables": {"region": {"value": "eu-west-1"}, "db_password": {"value": "hunter2-variable"}},
        "planned_values": {"outputs": {"endpoint": {"sensitive": false, "value": "svc.example.com"}},
                           "root_module": {"resources": planned}},
        "resource_changes": changes,
        "output_changes": {
            "endpoint": {"actions": ["update"], "before": "old.example.com", "after": "svc.example.com",
                         "after_unknown": false, "before_sensitive": false, "after_sensitive": false},
            "db_password": {"actions": ["update"], "before": "old", "after": "new",
                            "after_unknown": false, "before_sensitive": true, "after_sensitive": true}
        },
        "prior_state": {"format_version": "1.0", "terraform_version": "1.9.8",
                        "values": {"root_module": {"resources": prior}}},
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "full_name": AWS, "expressions": {"region": {"constant_value": "eu-west-1"}}},
                "google": {"name": "google", "full_name": GOOGLE, "expressions": {"project": {"constant_value": "bench"}}},
                "azurerm": {"name": "azurerm", "full_name": AZURE, "expressions": {"features": [{}]}}
            },
            "root_module": {"resources": config}
        },
        "timestamp": "2026-12-02T00:00:00Z",
        "errored": false,
        "applyable": true,
        "complete": true
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(count), Some(out)) = (args.first().and_then(|a| a.parse().ok()), args.get(1)) else {
        eprintln!("usage: plangen <resources> <file>");
        std::process::exit(2);
    };
    let text = generate(count).to_string();
    std::fs::write(out, text).unwrap_or_else(|e| {
        eprintln!("plangen: writing {out}: {e}");
        std::process::exit(3);
    });
}
