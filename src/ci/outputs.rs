//! Step outputs, appended to the `GITHUB_OUTPUT` file the way the runner
//! reads it: `name=value` for one-line values, a heredoc with a random
//! delimiter for anything else.

use std::path::Path;

use rand::Rng;

use super::CiError;

/// The outputs phasegate sets.
pub const OUTPUT_NAMES: [&str; 6] = [
    "has_changes",
    "digest",
    "security_verdict",
    "cost_verdict",
    "comment_url",
    "matrix",
];

/// Formats one output as the runner's file command expects it.
pub fn format_output(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let delimiter = loop {
        let candidate = format!("ghadelimiter_{:032x}", rand::rng().random::<u128>());
        if !value.contains(&candidate) {
            break candidate;
        }
    };
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// Appends outputs to `file` in one write.
pub fn write_outputs(file: &Path, outputs: &[(&str, String)]) -> Result<(), CiError> {
    let text: String = outputs
        .iter()
        .map(|(name, value)| format_output(name, value))
        .collect();
    super::append(file, &text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses a `GITHUB_OUTPUT` file as the Actions runner does.
    pub fn parse_like_the_runner(text: &str) -> Vec<(String, String)> {
        let mut out = vec![];
        let lines: Vec<&str> = text.split('\n').collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            i += 1;
            if line.is_empty() {
                continue;
            }
            let eq = line.find('=');
            let heredoc = line.find("<<");
            match (eq, heredoc) {
                (Some(e), h) if h.is_none_or(|h| e < h) => {
                    out.push((line[..e].to_string(), line[e + 1..].to_string()));
                }
                (_, Some(h)) => {
                    let name = line[..h].to_string();
                    let delimiter = &line[h + 2..];
                    let mut value = vec![];
                    loop {
                        let l = lines.get(i).expect("heredoc is closed");
                        i += 1;
                        if *l == delimiter {
                            break;
                        }
                        value.push(*l);
                    }
                    out.push((name, value.join("\n")));
                }
                _ => panic!("invalid output line: {line}"),
            }
        }
        out
    }

    #[test]
    fn outputs_round_trip_through_the_runner_parser() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("output");
        let tricky = [
            ("digest", "abc123".to_string()),
            ("has_changes", "true".to_string()),
            ("comment_url", "https://x/y?a=1&b=%20:c,d".to_string()),
            (
                "matrix",
                "{\"include\":[\n  {\"env\":\"dev\"}\n]}".to_string(),
            ),
            (
                "security_verdict",
                "line one\r\nline=two << three".to_string(),
            ),
            (
                "cost_verdict",
                "ghadelimiter_00000000000000000000000000000000\nx".to_string(),
            ),
        ];
        write_outputs(&file, &tricky).unwrap();
        let parsed = parse_like_the_runner(&std::fs::read_to_string(&file).unwrap());
        assert_eq!(parsed.len(), tricky.len());
        for ((name, value), (pname, pvalue)) in tricky.iter().zip(&parsed) {
            assert_eq!(name, pname);
            // The runner reads lines split on LF; a CR stays in the value.
            assert_eq!(value, pvalue, "{name}");
        }
    }

    #[test]
    fn a_value_never_contains_its_own_delimiter() {
        let text = format_output("m", "a\nb");
        let delimiter = text.lines().next().unwrap().split("<<").nth(1).unwrap();
        assert!(!"a\nb".contains(delimiter));
        assert!(text.ends_with(&format!("\n{delimiter}\n")));
    }
}
