//! The inertness checker shared by the hostile-text tests and the renderer
//! fuzz target (`fuzz/`, which includes this file by path): a surface is
//! parsed as GitHub-flavoured markdown (comrak) and its tree must hold no
//! link or image off the allowed hosts, no raw HTML but the renderer's own
//! tags, no mention, no issue reference and no copy of the marker. Only
//! `comrak` and `regex` are used, so both crates can build it.

use comrak::nodes::{AstNode, NodeValue};
use comrak::{parse_document, Arena, Options};
use regex::Regex;

/// Tags the renderer itself writes; anything else in raw HTML came from input.
const OWN_TAGS: &[&str] = &[
    "details", "/details", "summary", "/summary", "code", "/code", "br", "i", "/i", "pre", "/pre",
];

/// What makes a surface unsafe, as found in its GFM tree.
pub fn violations(markdown: &str, allowed_hosts: &[&str]) -> Vec<String> {
    let mention = Regex::new(r"(?i)(?:^|[^\w/`])@[a-z0-9][a-z0-9-]*").unwrap();
    let reference = Regex::new(r"(?:^|[^\w/])(?:[\w.-]+/[\w.-]+)?#\d+\b").unwrap();
    let tag = Regex::new(r"<(/?[a-zA-Z][a-zA-Z0-9]*)[^>]*>").unwrap();
    let mut found = Vec::new();
    let check_text = |text: &str, where_: &str, found: &mut Vec<String>| {
        if let Some(m) = mention.find(text) {
            found.push(format!("mention {:?} in {where_}", m.as_str()));
        }
        if let Some(m) = reference.find(text) {
            found.push(format!("issue reference {:?} in {where_}", m.as_str()));
        }
        if text.contains("<!-- phasegate -->") {
            found.push(format!("copy of the marker in {where_}"));
        }
    };
    let host_ok = |url: &str| {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .unwrap_or("");
        allowed_hosts.contains(&host)
    };
    let arena = Arena::new();
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.strikethrough = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    let root = parse_document(&arena, markdown, &options);
    for node in root.descendants() {
        let node: &AstNode = node;
        let value = node.data.borrow().value.clone();
        match value {
            NodeValue::Link(link) if !host_ok(&link.url) => {
                found.push(format!("link to {}", link.url))
            }
            NodeValue::Image(link) => found.push(format!("image {}", link.url)),
            NodeValue::HtmlInline(html) => {
                html_violations(&html, &tag, &mut found);
                if !html.starts_with("<!-- phasegate:") {
                    check_text(&html, "inline HTML", &mut found);
                }
            }
            NodeValue::HtmlBlock(block) => {
                html_violations(&block.literal, &tag, &mut found);
                // Text inside an HTML block is shown after entity decoding.
                for line in block.literal.lines() {
                    if !line.starts_with("<!-- phasegate:") {
                        check_text(&decode(line), "HTML block", &mut found);
                    }
                }
            }
            NodeValue::Text(text) => check_text(&text, "text", &mut found),
            _ => {}
        }
    }
    found
}

/// Raw HTML may only hold the renderer's own tags and phasegate markers.
fn html_violations(html: &str, tag: &Regex, found: &mut Vec<String>) {
    let without_markers = Regex::new(r"<!-- phasegate:[a-z-]+(=[^ ]*)? -->")
        .unwrap()
        .replace_all(html, "");
    if without_markers.contains("<!--") {
        found.push(format!("an HTML comment that is not ours: {html:?}"));
    }
    for cap in tag.captures_iter(&without_markers) {
        let name = cap[1].to_ascii_lowercase();
        if !OWN_TAGS.contains(&name.as_str()) || cap[0].contains('=') {
            found.push(format!("raw HTML {:?}", &cap[0]));
        }
    }
}

/// The few entities the escaper writes, decoded as a browser would.
fn decode(text: &str) -> String {
    let numeric = Regex::new(r"&#(\d+);").unwrap();
    let out = numeric.replace_all(text, |c: &regex::Captures| {
        char::from_u32(c[1].parse().unwrap()).map_or(String::new(), String::from)
    });
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
