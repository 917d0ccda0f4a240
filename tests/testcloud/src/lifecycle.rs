//! The cloud's life-cycle rules as pure functions: what a plan looks like, which changes force a
//! replacement, which names fail on purpose, and the identity (id, ARN, addresses) a new resource
//! gets. Ids are derived from the configuration so that re-recording a plan gives the same ids.

use tf_provider::value::ValueAny;

use crate::catalog::{IdScheme, TypeSpec, ACCOUNT_ID};
use crate::values::{attr, str_attr, Object};

/// Names containing this marker fail on create, to exercise partial applies.
pub const FAIL_MARKER: &str = "fail-apply";

/// Names containing this marker are throttled on their first create only, to exercise the
/// one retry of a transient failure. The cloud remembers the first attempt in a file.
pub const TRANSIENT_MARKER: &str = "transient-once";

/// The planned object of a new resource: computed attributes unknown, defaults filled in.
pub fn plan_create(spec: &TypeSpec, mut proposed: Object) -> Object {
    for name in spec.computed {
        proposed.insert((*name).to_owned(), ValueAny::Unknown);
    }
    fill_defaults(spec, &mut proposed);
    proposed
}

/// The planned object of an existing resource and the attributes whose change forces a
/// replacement. Computed attributes keep their prior values: Terraform's proposal already
/// carries them over.
pub fn plan_update(
    spec: &TypeSpec,
    prior: &Object,
    mut proposed: Object,
) -> (Object, Vec<&'static str>) {
    fill_defaults(spec, &mut proposed);
    let replace = spec
        .immutable
        .iter()
        .copied()
        .filter(|name| attr(prior, name) != attr(&proposed, name))
        .collect();
    (proposed, replace)
}

fn fill_defaults(spec: &TypeSpec, object: &mut Object) {
    for (name, fill) in spec.defaults {
        let slot = object.entry((*name).to_owned()).or_insert(ValueAny::Null);
        if *slot == ValueAny::Null {
            *slot = fill.value();
        }
    }
}

/// A human name for the resource in messages: its naming attribute or its `Name` tag.
pub fn display_name(spec: &TypeSpec, object: &Object) -> Option<String> {
    if let Some(name) = spec.name_attr.and_then(|a| str_attr(object, a)) {
        return Some(name.to_owned());
    }
    match attr(object, "tags") {
        ValueAny::Map(tags) => match tags.get("Name") {
            Some(ValueAny::String(name)) => Some(name.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The diagnostic detail when this resource is one the cloud refuses to create on purpose.
pub fn injected_failure(spec: &TypeSpec, object: &Object) -> Option<String> {
    let name = display_name(spec, object)?;
    name.contains(FAIL_MARKER).then(|| {
        format!(
            "testcloud refuses to create {} \"{name}\": names containing \"{FAIL_MARKER}\" \
             always fail on create, to exercise partial applies. Rename it to create it.",
            spec.type_name()
        )
    })
}

/// Names containing this marker are created, then answered with an error, as when a
/// provider's answer is lost after the cloud acted (a dropped connection, a cancelled call):
/// the object exists and the state does not know it.
pub const LOST_ANSWER_MARKER: &str = "lost-answer";

/// Whether this resource's create is answered with an error after the object is stored.
pub fn loses_answer(spec: &TypeSpec, object: &Object) -> bool {
    display_name(spec, object).is_some_and(|n| n.contains(LOST_ANSWER_MARKER))
}

/// The resource's name when it carries [`TRANSIENT_MARKER`]: its first create is throttled.
pub fn transient_name(spec: &TypeSpec, object: &Object) -> Option<String> {
    display_name(spec, object).filter(|n| n.contains(TRANSIENT_MARKER))
}

/// The throttling error a cloud API answers with; the wording is AWS's, which engines classify
/// as transient.
pub fn throttled(type_name: &str, name: &str) -> (String, String) {
    (
        format!("testcloud: creating {type_name} \"{name}\" failed: ThrottlingException: Rate exceeded"),
        format!(
            "status code: 429. Names containing \"{TRANSIENT_MARKER}\" are throttled on their first \
             create only; a retry succeeds."
        ),
    )
}

/// Fills the computed attributes of a resource being created. `taken` says whether an id is
/// already in use; generated ids are salted until free, naming ids are refused when taken.
pub fn assign_identity(
    spec: &TypeSpec,
    region: &str,
    planned: &mut Object,
    taken: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let base = fingerprint(planned);
    let (id, hash) = match spec.id_scheme {
        IdScheme::Name | IdScheme::Arn => (String::new(), base),
        IdScheme::Prefixed(prefix) => {
            let mut salt = 0u64;
            loop {
                let hash = base ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let id = format!("{prefix}{}", hex17(hash));
                if !taken(&id) {
                    break (id, hash);
                }
                salt += 1;
            }
        }
    };
    let name = |a: &str| str_attr(planned, a).unwrap_or_default().to_owned();
    let ip = |net: &str| format!("{net}.{}.{}", (hash >> 8) % 256, hash % 254 + 1);
    let (id, computed): (String, Vec<(&str, String)>) = match spec.short_name {
        "s3_bucket" => {
            let bucket = name("bucket");
            let computed = vec![
                ("arn", format!("arn:aws:s3:::{bucket}")),
                ("bucket_domain_name", format!("{bucket}.s3.amazonaws.com")),
            ];
            (bucket, computed)
        }
        "security_group" => {
            let computed = vec![
                (
                    "arn",
                    format!("arn:aws:ec2:{region}:{ACCOUNT_ID}:security-group/{id}"),
                ),
                ("owner_id", ACCOUNT_ID.to_owned()),
            ];
            (id, computed)
        }
        "instance" => {
            let computed = vec![
                (
                    "arn",
                    format!("arn:aws:ec2:{region}:{ACCOUNT_ID}:instance/{id}"),
                ),
                ("private_ip", ip("10.0")),
                ("instance_state", "running".to_owned()),
            ];
            (id, computed)
        }
        "db_instance" => {
            let identifier = name("identifier");
            let port = match name("engine").as_str() {
                "mysql" | "mariadb" | "aurora-mysql" => 3306,
                "sqlserver-ex" | "sqlserver-se" | "sqlserver-ee" | "sqlserver-web" => 1433,
                "oracle-se2" | "oracle-ee" => 1521,
                _ => 5432,
            };
            let address = format!("{identifier}.c9testcloud.{region}.rds.amazonaws.com");
            let computed = vec![
                (
                    "arn",
                    format!("arn:aws:rds:{region}:{ACCOUNT_ID}:db:{identifier}"),
                ),
                ("endpoint", format!("{address}:{port}")),
                ("address", address),
            ];
            (identifier, computed)
        }
        "iam_policy" => {
            let path = str_attr(planned, "path").unwrap_or("/").to_owned();
            let arn = format!("arn:aws:iam::{ACCOUNT_ID}:policy{path}{}", name("name"));
            let computed = vec![
                ("arn", arn.clone()),
                ("policy_id", format!("ANPA{}", hex17(hash).to_uppercase())),
            ];
            (arn, computed)
        }
        "nat_gateway" => {
            let computed = vec![
                ("public_ip", ip("203.0")),
                ("private_ip", ip("10.0")),
                (
                    "network_interface_id",
                    format!("eni-{}", hex17(hash.rotate_left(17))),
                ),
            ];
            (id, computed)
        }
        "ebs_volume" => {
            let computed = vec![(
                "arn",
                format!("arn:aws:ec2:{region}:{ACCOUNT_ID}:volume/{id}"),
            )];
            (id, computed)
        }
        other => return Err(format!("testcloud has no identity rule for aws_{other}")),
    };
    if matches!(spec.id_scheme, IdScheme::Name | IdScheme::Arn) && taken(&id) {
        return Err(format!(
            "{} \"{id}\" already exists in the cloud; pick another name or import it",
            spec.type_name()
        ));
    }
    for (k, v) in computed {
        planned.insert(k.to_owned(), ValueAny::String(v));
    }
    planned.insert("id".to_owned(), ValueAny::String(id.clone()));
    Ok(id)
}

/// 17 hex digits, the length of modern EC2 ids, spread from a 64-bit hash.
fn hex17(hash: u64) -> String {
    format!("{:x}{hash:016x}", (hash >> 32) % 16)
}

/// A stable 64-bit FNV-1a hash of the known parts of an object.
fn fingerprint(object: &Object) -> u64 {
    fn feed(hash: &mut u64, bytes: &[u8]) {
        for b in bytes {
            *hash ^= u64::from(*b);
            *hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn walk(hash: &mut u64, value: &ValueAny) {
        match value {
            ValueAny::Null | ValueAny::Unknown => feed(hash, b"~"),
            ValueAny::Bool(b) => feed(hash, if *b { b"t" } else { b"f" }),
            ValueAny::Number(n) => feed(hash, &n.to_le_bytes()),
            ValueAny::String(s) => {
                feed(hash, b"s");
                feed(hash, s.as_bytes());
            }
            ValueAny::List(items) => {
                feed(hash, b"[");
                items.iter().for_each(|v| walk(hash, v));
                feed(hash, b"]");
            }
            ValueAny::Map(map) => {
                feed(hash, b"{");
                for (k, v) in map {
                    feed(hash, k.as_bytes());
                    walk(hash, v);
                }
                feed(hash, b"}");
            }
        }
    }
    let mut hash = 0xcbf2_9ce4_8422_2325;
    for (k, v) in object {
        feed(&mut hash, k.as_bytes());
        walk(&mut hash, v);
    }
    hash
}

/// The object Terraform should see after a refresh: the prior object with every attribute the
/// stored file holds taken from the file, so that out-of-band edits show up as drift.
pub fn overlay(prior: &Object, stored: Object) -> Object {
    let mut fresh = prior.clone();
    for (k, v) in stored {
        if let Some(slot) = fresh.get_mut(&k) {
            *slot = v;
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn spec(short: &str) -> TypeSpec {
        catalog::all()
            .into_iter()
            .find(|s| s.short_name == short)
            .unwrap()
    }

    fn obj(pairs: &[(&str, ValueAny)]) -> Object {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn s(v: &str) -> ValueAny {
        ValueAny::String(v.to_owned())
    }

    #[test]
    fn new_resource_plans_computed_attributes_unknown_and_fills_defaults() {
        let planned = plan_create(&spec("db_instance"), obj(&[("identifier", s("app"))]));
        assert_eq!(planned["id"], ValueAny::Unknown);
        assert_eq!(planned["arn"], ValueAny::Unknown);
        assert_eq!(planned["storage_encrypted"], ValueAny::Bool(false));
        assert_eq!(planned["identifier"], s("app"));
    }

    #[test]
    fn renaming_a_bucket_forces_replacement_but_retagging_does_not() {
        let bucket = spec("s3_bucket");
        let prior = obj(&[("bucket", s("a")), ("acl", s("private"))]);
        let (_, replace) = plan_update(
            &bucket,
            &prior,
            obj(&[("bucket", s("b")), ("acl", s("private"))]),
        );
        assert_eq!(replace, vec!["bucket"]);
        let tags = ValueAny::Map([("env".to_owned(), s("dev"))].into());
        let (planned, replace) = plan_update(
            &bucket,
            &prior,
            obj(&[
                ("bucket", s("a")),
                ("acl", s("private")),
                ("tags", tags.clone()),
            ]),
        );
        assert!(replace.is_empty());
        assert_eq!(planned["tags"], tags);
    }

    #[test]
    fn changing_the_db_engine_forces_replacement() {
        let prior = obj(&[("identifier", s("app")), ("engine", s("postgres"))]);
        let (_, replace) = plan_update(
            &spec("db_instance"),
            &prior,
            obj(&[("identifier", s("app")), ("engine", s("mysql"))]),
        );
        assert_eq!(replace, vec!["engine"]);
    }

    #[test]
    fn names_and_name_tags_with_the_marker_fail_on_create() {
        let bucket = obj(&[("bucket", s("logs-fail-apply"))]);
        let detail = injected_failure(&spec("s3_bucket"), &bucket).unwrap();
        assert!(
            detail.contains("aws_s3_bucket \"logs-fail-apply\""),
            "{detail}"
        );
        let tags = ValueAny::Map([("Name".to_owned(), s("vol-fail-apply"))].into());
        assert!(injected_failure(&spec("ebs_volume"), &obj(&[("tags", tags)])).is_some());
        assert!(injected_failure(&spec("s3_bucket"), &obj(&[("bucket", s("ok"))])).is_none());
    }

    #[test]
    fn only_names_with_the_transient_marker_are_throttled() {
        let bucket = obj(&[("bucket", s("logs-transient-once"))]);
        assert_eq!(
            transient_name(&spec("s3_bucket"), &bucket).as_deref(),
            Some("logs-transient-once")
        );
        assert!(transient_name(&spec("s3_bucket"), &obj(&[("bucket", s("ok"))])).is_none());
        let (summary, _) = throttled("aws_s3_bucket", "x");
        assert!(summary.contains("ThrottlingException"), "{summary}");
    }

    #[test]
    fn generated_ids_are_stable_and_skip_taken_ones() {
        let sg = spec("security_group");
        let mut a = plan_create(&sg, obj(&[("name", s("web"))]));
        let mut b = a.clone();
        let first = assign_identity(&sg, "us-east-1", &mut a, |_| false).unwrap();
        assert!(first.starts_with("sg-") && first.len() == 20, "{first}");
        let second = assign_identity(&sg, "us-east-1", &mut b, |id| id == first).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            a["arn"],
            s(&format!(
                "arn:aws:ec2:us-east-1:123456789012:security-group/{first}"
            ))
        );
    }

    #[test]
    fn a_bucket_name_in_use_is_refused() {
        let bucket = spec("s3_bucket");
        let mut planned = plan_create(&bucket, obj(&[("bucket", s("logs"))]));
        let err =
            assign_identity(&bucket, "us-east-1", &mut planned, |id| id == "logs").unwrap_err();
        assert!(err.contains("already exists"), "{err}");
    }

    #[test]
    fn refresh_takes_stored_values_and_ignores_unknown_keys() {
        let prior = obj(&[("bucket", s("a")), ("acl", s("private"))]);
        let stored = obj(&[
            ("bucket", s("a")),
            ("acl", s("public-read")),
            ("junk", s("x")),
        ]);
        let fresh = overlay(&prior, stored);
        assert_eq!(fresh, obj(&[("bucket", s("a")), ("acl", s("public-read"))]));
    }
}
