//! Usage assumptions for usage-priced resources (data processed, requests,
//! stored GB), read from a small YAML file keyed by resource address and by
//! type default.
//!
//! ```yaml
//! resources:
//!   aws_nat_gateway.egress: { monthly_data_processed_gb: 100 }
//! types:
//!   aws_lambda_function: { monthly_requests: 1000000, average_duration_ms: 200 }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::price::usage_keys;
use super::CostError;

const MAX_USAGE_BYTES: usize = 1 << 20;

/// Usage quantities by resource address and by type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    #[serde(default)]
    pub resources: BTreeMap<String, BTreeMap<String, f64>>,
    #[serde(default)]
    pub types: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Usage {
    /// Reads and checks a usage file.
    pub fn load(path: &Path) -> Result<Usage, CostError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CostError::Read {
            path: origin.clone(),
            message: e.to_string(),
        })?;
        // A usage file is a few lines written by hand; anything this large is
        // the wrong file.
        if text.len() > MAX_USAGE_BYTES {
            return Err(CostError::Read {
                path: origin,
                message: format!("larger than {MAX_USAGE_BYTES} bytes; this is not a usage file"),
            });
        }
        Usage::parse(&text, &origin)
    }

    /// Parses usage YAML; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Usage, CostError> {
        let mut field = String::new();
        let usage: Usage = serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                field = e.path().to_string();
                e.into_inner()
            })
        })
        .map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line() as u32, l.column() as u32))
                .unwrap_or((1, 1));
            let message = e.to_string();
            let message = message.lines().next().unwrap_or_default().to_string();
            CostError::Usage {
                file: origin.to_string(),
                line,
                column,
                path: field.trim_end_matches(".?").to_string(),
                message,
            }
        })?;
        usage.check(text, origin)?;
        Ok(usage)
    }

    /// Refuses keys no pricer reads: a misspelt key would silently leave the
    /// resource unpriced.
    fn check(&self, text: &str, origin: &str) -> Result<(), CostError> {
        let sections = [("resources", &self.resources), ("types", &self.types)];
        for (section, entries) in sections {
            for (name, values) in entries {
                let resource_type = if section == "types" {
                    name.as_str()
                } else {
                    type_of_address(name)
                };
                let known = usage_keys(resource_type);
                for (key, value) in values {
                    let problem = if known.is_empty() {
                        Some(format!(
                            "`{resource_type}` has no usage-based price; remove this entry"
                        ))
                    } else if !known.contains(&key.as_str()) {
                        Some(format!(
                            "unknown usage key `{key}` for `{resource_type}`; expected one of {}",
                            known.join(", ")
                        ))
                    } else if !value.is_finite() || *value < 0.0 {
                        Some(format!("`{key}` must be a number >= 0"))
                    } else {
                        None
                    };
                    if let Some(message) = problem {
                        let path = format!("{section}.{name}.{key}");
                        let (line, column) = locate_key(text, key).unwrap_or((1, 1));
                        return Err(CostError::Usage {
                            file: origin.to_string(),
                            line,
                            column,
                            path,
                            message,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The usage for one resource: its address entry first (with or
    /// without the instance key), then its type's default.
    pub fn get(&self, address: &str, resource_type: &str, key: &str) -> Option<f64> {
        let bare = address.split_once('[').map(|(a, _)| a).unwrap_or(address);
        [address, bare]
            .iter()
            .find_map(|a| self.resources.get(*a).and_then(|m| m.get(key)))
            .or_else(|| self.types.get(resource_type).and_then(|m| m.get(key)))
            .copied()
    }
}

/// `module.a.aws_nat_gateway.egress["x"]` -> `aws_nat_gateway`.
fn type_of_address(address: &str) -> &str {
    let mut rest = address;
    while let Some(after) = rest.strip_prefix("module.") {
        rest = after.split_once('.').map(|(_, r)| r).unwrap_or("");
    }
    rest.split('.').next().unwrap_or(rest)
}

/// First line and column where `key:` appears, for pointing at a bad key.
fn locate_key(text: &str, key: &str) -> Option<(u32, u32)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let col = line.find(&format!("{key}:"))?;
        Some((i as u32 + 1, col as u32 + 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_entry_wins_over_type_default() {
        let u = Usage::parse(
            "resources:\n  aws_nat_gateway.egress: { monthly_data_processed_gb: 100 }\ntypes:\n  aws_nat_gateway: { monthly_data_processed_gb: 5 }\n",
            "usage.yml",
        )
        .unwrap();
        let key = "monthly_data_processed_gb";
        assert_eq!(
            u.get("aws_nat_gateway.egress", "aws_nat_gateway", key),
            Some(100.0)
        );
        assert_eq!(
            u.get("aws_nat_gateway.egress[0]", "aws_nat_gateway", key),
            Some(100.0)
        );
        assert_eq!(
            u.get("aws_nat_gateway.other", "aws_nat_gateway", key),
            Some(5.0)
        );
    }

    #[test]
    fn misspelt_usage_key_is_located() {
        let err = Usage::parse(
            "resources:\n  module.net.aws_nat_gateway.egress:\n    monthly_gb: 100\n",
            "usage.yml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "usage.yml:3:5: resources.module.net.aws_nat_gateway.egress.monthly_gb:"
            ),
            "{err}"
        );
        assert!(err.contains("monthly_data_processed_gb"), "{err}");
    }

    #[test]
    fn wrong_value_type_is_located() {
        let err = Usage::parse(
            "types:\n  aws_lambda_function:\n    monthly_requests: lots\n",
            "u.yml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("u.yml:3:"), "{err}");
        assert!(
            err.contains("types.aws_lambda_function.monthly_requests"),
            "{err}"
        );
    }
}
