//! Workflow commands printed to stdout: groups, annotations and masks, with
//! the toolkit's escaping so that no value can end a command early.

/// Escapes a command's message (data).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command's property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Annotation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

/// Where and what an annotation says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub title: Option<String>,
    pub message: String,
}

/// `::error file=..,line=..,title=..::message` and its siblings.
pub fn annotation(level: Level, a: &Annotation) -> String {
    let name = match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
    };
    let mut props = vec![];
    if let Some(f) = &a.file {
        props.push(format!("file={}", escape_property(f)));
    }
    if let Some(l) = a.line {
        props.push(format!("line={l}"));
    }
    if let Some(c) = a.col {
        props.push(format!("col={c}"));
    }
    if let Some(t) = &a.title {
        props.push(format!("title={}", escape_property(t)));
    }
    let props = if props.is_empty() {
        String::new()
    } else {
        format!(" {}", props.join(","))
    };
    format!(
        "::{name}{props}::{}",
        escape_data(&crate::redact::global().apply(&a.message))
    )
}

pub fn group(title: &str) -> String {
    format!("::group::{}", escape_data(title))
}

pub fn endgroup() -> &'static str {
    "::endgroup::"
}

/// Mask commands for a secret: one per line, since the runner masks line by line.
pub fn add_mask(secret: &str) -> Vec<String> {
    let mut out = vec![format!("::add-mask::{}", escape_data(secret))];
    if secret.contains('\n') {
        out.extend(
            secret
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("::add-mask::{}", escape_data(l))),
        );
    }
    out
}

/// Prints masks for every secret registered with the redactor. Called before
/// anything else is printed in Actions.
pub fn emit_masks() {
    for secret in crate::redact::global().secrets() {
        for line in add_mask(&secret) {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a workflow command line as the runner does: `::name props::data`.
    fn parse(line: &str) -> (String, Vec<(String, String)>, String) {
        let rest = line.strip_prefix("::").unwrap();
        let end = rest.find("::").unwrap();
        let (head, data) = (&rest[..end], &rest[end + 2..]);
        let (name, props) = head.split_once(' ').unwrap_or((head, ""));
        let unescape_data = |s: &str| {
            s.replace("%0D", "\r")
                .replace("%0A", "\n")
                .replace("%25", "%")
        };
        let unescape_prop = |s: &str| {
            s.replace("%3A", ":")
                .replace("%2C", ",")
                .replace("%0D", "\r")
                .replace("%0A", "\n")
                .replace("%25", "%")
        };
        let props = props
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), unescape_prop(v))
            })
            .collect();
        (name.to_string(), props, unescape_data(data))
    }

    #[test]
    fn annotation_values_with_separators_round_trip() {
        let a = Annotation {
            file: Some("infra/a,b:c.tf".into()),
            line: Some(12),
            col: None,
            title: Some("PG-AWS-001: 100% open, really".into()),
            message: "ingress 0.0.0.0/0 on :22\nfix: restrict it, 50% of the time".into(),
        };
        let line = annotation(Level::Error, &a);
        assert!(!line.contains('\n'));
        let (name, props, data) = parse(&line);
        assert_eq!(name, "error");
        assert_eq!(
            props,
            vec![
                ("file".to_string(), "infra/a,b:c.tf".to_string()),
                ("line".to_string(), "12".to_string()),
                (
                    "title".to_string(),
                    "PG-AWS-001: 100% open, really".to_string()
                ),
            ]
        );
        assert_eq!(data, a.message);
    }

    #[test]
    fn multiline_secret_is_masked_line_by_line() {
        let masks = add_mask("-----BEGIN KEY-----\nabc%def\n-----END KEY-----");
        assert_eq!(masks.len(), 4);
        assert!(masks.iter().all(|m| !m[2..].contains('\n')));
        assert!(masks.contains(&"::add-mask::abc%25def".to_string()));
    }

    #[test]
    fn group_titles_cannot_inject_a_command() {
        let g = group("plan\n::error::boom");
        assert_eq!(g, "::group::plan%0A::error::boom");
    }
}
