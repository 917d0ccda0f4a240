//! Reading `phasegate.yml` and change plans: YAML parsed with budgets against
//! hostile input, every error located as `file:line:column: field.path: what`.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::model::{ChangePlan, Config};

/// The only config and change-plan version this phasegate reads.
pub const SUPPORTED_VERSION: u32 = 1;

/// Files larger than this are refused before parsing.
const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// One located problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// `environments[2].name`; empty for the document itself.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.path, self.message)
        }
    }
}

/// A config or change plan that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(p) => p,
            ConfigError::Read { .. } => &[],
        }
    }
}

impl From<ConfigError> for crate::Error {
    fn from(e: ConfigError) -> Self {
        crate::Error::Input(e.to_string())
    }
}

pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let text = read(path)?;
    load_config_str(&text, &display_name(path))
}

pub fn load_change_plan(path: &Path) -> Result<ChangePlan, ConfigError> {
    let text = read(path)?;
    load_change_plan_str(&text, &display_name(path))
}

pub fn load_config_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let cfg: Config = parse(text, origin)?;
    check_version(cfg.version, text, origin)?;
    Ok(cfg)
}

pub fn load_change_plan_str(text: &str, origin: &str) -> Result<ChangePlan, ConfigError> {
    let plan: ChangePlan = parse(text, origin)?;
    check_version(plan.version, text, origin)?;
    Ok(plan)
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}

fn read(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ConfigError::Read {
            path: path.to_path_buf(),
            message: format!("larger than {MAX_FILE_BYTES} bytes; this is not a config file"),
        });
    }
    String::from_utf8(bytes).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        message: format!("not UTF-8 ({e})"),
    })
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_anchors: 100,
            max_aliases: 1000,
            max_events: 200_000,
            max_nodes: 100_000,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
    }
}

fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    let mut path = String::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
        serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let (line, column) = match e.location() {
            Some(l) => (Some(l.line() as u32), Some(l.column() as u32)),
            None => (None, None),
        };
        // serde_path_to_error says `.` for the root and `?` for a key it
        // could not name.
        let path = path.trim_end_matches(".?").to_string();
        let path = if path == "." || path == "?" {
            String::new()
        } else {
            path
        };
        ConfigError::Invalid(vec![Problem {
            file: origin.to_string(),
            line,
            column,
            path,
            message: bare_message(&e.to_string()),
        }])
    })
}

/// serde-saphyr's display carries its own location prefix and a source
/// snippet; phasegate prints its own location, so only the message is kept.
fn bare_message(display: &str) -> String {
    let first = display.lines().next().unwrap_or(display);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let rest = match first.strip_prefix("line ") {
        Some(r) => r.split_once(": ").map(|(_, m)| m).unwrap_or(r),
        None => first,
    };
    // The library's hint names its own options; say what to do instead.
    if let Some(key) = rest.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key);
        return format!("key `{key}` appears twice in the same mapping; keep one");
    }
    rest.to_string()
}

fn check_version(version: u32, text: &str, origin: &str) -> Result<(), ConfigError> {
    if version == SUPPORTED_VERSION {
        return Ok(());
    }
    let (line, column) = locate(text, "version").unzip();
    Err(ConfigError::Invalid(vec![Problem {
        file: origin.to_string(),
        line,
        column,
        path: "version".into(),
        message: format!(
            "unsupported version {version}; this phasegate reads version {SUPPORTED_VERSION}"
        ),
    }]))
}

/// Finds the line and column of a field path (`phases[1].environment`) in
/// YAML text, by walking the block structure: good enough for the
/// hand-written files phasegate reads. When a step cannot be followed (flow
/// style, anchors) the deepest enclosing node found is returned.
pub fn locate(text: &str, path: &str) -> Option<(u32, u32)> {
    let segments = split_path(path)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0usize;
    let mut end = lines.len();
    let mut min_indent = 0usize;
    let mut found = None;
    for seg in segments {
        match seg {
            Segment::Key(key) => {
                let Some((idx, indent)) = find_key(&lines[start..end], key, min_indent) else {
                    return found;
                };
                let idx = start + idx;
                let col = indent + 1;
                found = Some((idx as u32 + 1, col as u32));
                start = idx + 1;
                end = block_end(&lines, idx, indent, end);
                min_indent = indent + 1;
                // The value may sit on the key's own line (`key: [..]`); the
                // nested search then finds nothing and we keep the key.
            }
            Segment::Index(i) => {
                let mut count = 0usize;
                let mut hit = None;
                // The list's items sit at the first item's indentation; deeper
                // `- ` lines belong to lists nested in an item.
                let mut item_indent = None;
                for (n, line) in lines[start..end].iter().enumerate() {
                    let trimmed = line.trim_start();
                    let indent = line.len() - trimmed.len();
                    if indent >= min_indent.saturating_sub(1)
                        && (trimmed.starts_with("- ") || trimmed == "-")
                        && *item_indent.get_or_insert(indent) == indent
                    {
                        if count == i {
                            hit = Some((start + n, indent));
                            break;
                        }
                        count += 1;
                    }
                }
                let Some((idx, indent)) = hit else {
                    // `key: [a, b]`: the item on the key's own line.
                    return found.map(|(line, col)| {
                        let text = lines[line as usize - 1];
                        (line, flow_item_column(text, i).unwrap_or(col))
                    });
                };
                found = Some((idx as u32 + 1, indent as u32 + 3));
                end = block_end(&lines, idx, indent, end);
                // Fields of the item start on its own line after `- `.
                start = idx;
                min_indent = indent + 2;
            }
        }
    }
    found
}

/// The 1-based column of item `index` of a one-line flow sequence
/// (`environments: [dev, "prod"]`), if the line holds one that long.
fn flow_item_column(line: &str, index: usize) -> Option<u32> {
    let open = line.find(": [")? + 3;
    let close = line[open..].find(']')? + open;
    let mut start = open;
    for (n, item) in line[open..close].split(',').enumerate() {
        if n == index {
            let lead = item.len() - item.trim_start().len();
            return (!item.trim().is_empty()).then_some((start + lead + 1) as u32);
        }
        start += item.len() + 1;
    }
    None
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn split_path(path: &str) -> Option<Vec<Segment<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            out.push(Segment::Index(r[..close].parse().ok()?));
            rest = &r[close + 1..];
        }
    }
    Some(out)
}

/// The line and indent of `key` among the block's own keys: those at the
/// indent of its first key, so a deeper key of the same name (`projects:`
/// inside an environment) is not taken for the block's own.
fn find_key(lines: &[&str], key: &str, min_indent: usize) -> Option<(usize, usize)> {
    let mut own_indent = None;
    for (n, line) in lines.iter().enumerate() {
        let mut body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let mut indent = line.len() - body.len();
        if let Some(rest) = body.strip_prefix("- ") {
            indent += 2;
            body = rest;
        }
        if indent < min_indent || *own_indent.get_or_insert(indent) != indent {
            continue;
        }
        let name = body
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if name == key && body.contains(':') {
            return Some((n, indent));
        }
    }
    None
}

/// The first line after `idx` indented at or below `indent` (the end of the
/// block that starts at `idx`).
fn block_end(lines: &[&str], idx: usize, indent: usize, limit: usize) -> usize {
    for (n, line) in lines.iter().enumerate().take(limit).skip(idx + 1) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = line.len() - trimmed.len();
        if ind < indent || (ind == indent && !trimmed.starts_with("- ")) {
            return n;
        }
        if ind == indent && trimmed.starts_with("- ") && lines[idx].trim_start().starts_with("- ") {
            return n;
        }
    }
    limit
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "version: 1\nenvironments:\n  - name: dev\n  - name: prod\n    protected: true\nprojects:\n  - name: app\n    dir: infra\n";

    #[test]
    fn unknown_field_is_located_with_its_path() {
        let text = CFG.replace("protected: true", "protectd: true");
        let err = load_config_str(&text, "phasegate.yml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "phasegate.yml:5:5: environments[1].protectd: unknown field `protectd`"
            ),
            "{err}"
        );
    }

    #[test]
    fn wrong_version_names_the_supported_one() {
        let text = CFG.replace("version: 1", "version: 2");
        let err = load_config_str(&text, "phasegate.yml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "phasegate.yml:1:1: version: unsupported version 2; this phasegate reads version 1"
        );
    }

    #[test]
    fn alias_expansion_bomb_is_refused_by_the_budget() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d"), ("f", "e")] {
            let items = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&format!("{name}: &{name} [{items}]\n"));
        }
        let err = parse::<serde_json::Value>(&text, "bomb.yml").unwrap_err();
        assert!(err.to_string().starts_with("bomb.yml:"), "{err}");
    }

    #[test]
    fn locate_walks_keys_and_indices() {
        assert_eq!(locate(CFG, "environments[1].protected"), Some((5, 5)));
        assert_eq!(locate(CFG, "environments[1]"), Some((4, 5)));
        assert_eq!(locate(CFG, "projects[0].dir"), Some((8, 5)));
        assert_eq!(locate(CFG, "projects"), Some((6, 1)));
    }

    #[test]
    fn locate_takes_the_blocks_own_key_not_a_deeper_one_of_the_same_name() {
        let text = "environments:\n  - name: dev\n    projects:\n      app: {}\nprojects:\n  - name: app\n    dir: app\n";
        assert_eq!(locate(text, "projects[0].dir"), Some((7, 5)));
        assert_eq!(locate(text, "environments[0].projects.app"), Some((4, 7)));
    }

    #[test]
    fn locate_finds_an_item_of_a_one_line_list() {
        let text = "projects:\n  - name: app\n    environments: [dev, \"qa\"]\n";
        assert_eq!(locate(text, "projects[0].environments[1]"), Some((3, 25)));
        assert_eq!(locate(text, "projects[0].environments[0]"), Some((3, 20)));
        // Past the end: the key itself.
        assert_eq!(locate(text, "projects[0].environments[5]"), Some((3, 5)));
    }
}
