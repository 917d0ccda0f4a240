//! Which resource an expression refers to, read from the plan's
//! `configuration` tree, so rules about relationships (a flow log and its
//! VPC, a bucket and its encryption resource) can follow the reference
//! instead of guessing from ids that are known only after apply.
//!
//! Only `references` lists are read: constant values in `configuration` are
//! in clear text even when sensitive, so serde skips them.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

/// Resource (config address, module-qualified, no index) → attribute →
/// the resources it refers to (config addresses, module-qualified).
pub type References = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// `configuration.root_module`, or a module call's `module`.
#[derive(Debug, Default, Deserialize)]
pub struct RawModule {
    #[serde(default)]
    resources: Vec<RawConfigResource>,
    #[serde(default)]
    module_calls: BTreeMap<String, RawModuleCall>,
}

#[derive(Debug, Deserialize)]
struct RawModuleCall {
    #[serde(default)]
    module: Option<RawModule>,
}

#[derive(Debug, Deserialize)]
struct RawConfigResource {
    address: String,
    #[serde(default)]
    expressions: BTreeMap<String, RawAttr>,
}

/// A top-level attribute: an expression (with `references`), or a nested
/// block, which no relationship rule needs.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawAttr {
    Expr {
        #[serde(default)]
        references: Vec<String>,
    },
    Other(IgnoredAny),
}

/// Flattens the module tree into [`References`].
pub fn collect(root: Option<RawModule>) -> References {
    let mut out = References::new();
    if let Some(m) = root {
        walk(m, "", &mut out);
    }
    out
}

fn walk(m: RawModule, prefix: &str, out: &mut References) {
    for r in m.resources {
        let mut attrs = BTreeMap::new();
        for (name, attr) in r.expressions {
            let RawAttr::Expr { references } = attr else {
                continue;
            };
            let mut targets: Vec<String> = references
                .iter()
                .filter_map(|x| resource_of(x))
                .map(|t| format!("{prefix}{t}"))
                .collect();
            targets.dedup();
            if !targets.is_empty() {
                attrs.insert(name, targets);
            }
        }
        if !attrs.is_empty() {
            out.insert(format!("{prefix}{}", r.address), attrs);
        }
    }
    for (name, call) in m.module_calls {
        if let Some(child) = call.module {
            walk(child, &format!("{prefix}module.{name}."), out);
        }
    }
}

/// `aws_vpc.main.id` → `aws_vpc.main`; `data.x.y.z` → `data.x.y`; variables,
/// locals and module outputs name no resource.
fn resource_of(reference: &str) -> Option<String> {
    let parts: Vec<&str> = reference.split('.').collect();
    let take = match *parts.first()? {
        "var" | "local" | "each" | "count" | "path" | "terraform" | "self" | "module" => {
            return None
        }
        "data" => 3,
        _ => 2,
    };
    if parts.len() < take {
        return None;
    }
    Some(strip_indices(&parts[..take].join(".")))
}

/// An instance address without its `count` / `for_each` keys:
/// `module.a["x"].aws_vpc.main[0]` → `module.a.aws_vpc.main`.
pub fn strip_indices(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0;
    let mut quoted = false;
    for c in address.chars() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_to_module_qualified_resources() {
        let root: RawModule = serde_json::from_str(
            r#"{"resources":[{"address":"aws_flow_log.a","expressions":{
                 "vpc_id":{"references":["aws_vpc.main.id","aws_vpc.main"]},
                 "tags":{"constant_value":{"k":"secret"}},
                 "destination_options":[{"file_format":{"constant_value":"parquet"}}]}}],
               "module_calls":{"net":{"module":{"resources":[{"address":"aws_flow_log.b",
                 "expressions":{"vpc_id":{"references":["aws_vpc.this[0].id","aws_vpc.this","var.x"]}}}]}}}}"#,
        )
        .expect("parses");
        let refs = collect(Some(root));
        assert_eq!(refs["aws_flow_log.a"]["vpc_id"], ["aws_vpc.main"]);
        assert_eq!(
            refs["module.net.aws_flow_log.b"]["vpc_id"],
            ["module.net.aws_vpc.this"]
        );
        assert!(!refs["aws_flow_log.a"].contains_key("tags"));
    }

    #[test]
    fn indices_are_stripped_even_when_keys_hold_brackets() {
        assert_eq!(
            strip_indices(r#"module.a["x[1]"].aws_vpc.main[0]"#),
            "module.a.aws_vpc.main"
        );
    }
}
