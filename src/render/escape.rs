//! Inert rendering of untrusted text: resource addresses, attribute values,
//! branch names, titles and change ids end up in a PR comment that GitHub
//! renders as markdown with HTML. Nothing such a value contains may open or
//! close a block, forge a phasegate marker, make a link, or ping anyone.
//!
//! Two shapes cover every use:
//! - [`inline`] for running text, table cells, `<summary>` lines and list items;
//! - [`code_block`] for multi-line text shown verbatim.
//!
//! Both work by character-level encoding, so the output never contains `<`,
//! `>`, a backtick, `|` or `@` taken from the input, and hence never contains
//! `<!--`, `-->`, `</details>` or an `@mention`.

/// Encodes `text` for markdown running text and table cells.
///
/// Every character that markdown or HTML gives a meaning is replaced by its
/// numeric HTML entity, which GitHub displays as the character itself:
/// `<>&` (tags, comments, entities), `` ` `` (code spans), `|` (table cells),
/// `*_~` (emphasis), `[]` (links and images), `\` (escapes), `@` (mentions),
/// `#` (issue references), `$` (math). `@`, `#` and the `:` of `://` are also
/// followed by a zero-width space, so no mention, reference or autolink
/// forms even where they are matched after entities are decoded, and `www.`
/// is broken the same way. Line breaks become `<br>` so a value
/// cannot start a new block; other control characters and bidirectional
/// overrides (which can make text read differently from what it is) become
/// U+FFFD.
///
/// Entities are not decoded inside backtick code spans, so the result must be
/// placed in running text or in a `<code>` element (see [`code_inline`]),
/// never between backticks.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            // `<!` is followed by a zero-width space, so not even the text
            // GitHub shows holds a copy of a phasegate marker.
            '<' if chars.peek() == Some(&'!') => out.push_str("&lt;&#8203;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push_str("&#96;"),
            '|' => out.push_str("&#124;"),
            '*' => out.push_str("&#42;"),
            '_' => out.push_str("&#95;"),
            '~' => out.push_str("&#126;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            '\\' => out.push_str("&#92;"),
            // The zero-width space keeps the mention or reference pattern
            // broken even where GitHub matches after decoding entities.
            '@' => out.push_str("&#64;&#8203;"),
            '#' => out.push_str("&#35;&#8203;"),
            '$' => out.push_str("&#36;"),
            // `https://` in running text would be autolinked.
            ':' if chars.peek() == Some(&'/') => out.push_str(":&#8203;"),
            // So would `www.example.com` (GFM's extended autolink).
            '.' if out
                .get(out.len().saturating_sub(3)..)
                .is_some_and(|t| t.eq_ignore_ascii_case("www")) =>
            {
                out.push_str("&#8203;.")
            }
            '\r' => {
                // A CR LF pair is one line break, not two.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            '\t' => out.push(' '),
            c if is_unsafe_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// [`inline`] wrapped in a `<code>` element: monospace like a code span, but
/// with the entities decoded and no backtick to balance.
pub fn code_inline(text: &str) -> String {
    format!("<code>{}</code>", inline(text))
}

/// Encodes `text` as a verbatim, multi-line `<pre>` block.
///
/// Inside `<pre>` GitHub does no markdown processing and no mention linking;
/// encoding `<>&` keeps the text from closing the block or adding tags, and
/// `@` and a `#` before a digit are followed by a zero-width space as in
/// [`inline`], so that even a renderer that did link mentions and
/// references would find none. The block starts and ends on its own lines; callers put
/// it after a blank line.
pub fn code_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str("<pre>");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' if chars.peek() == Some(&'!') => out.push_str("&lt;&#8203;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' => out.push_str("&#64;&#8203;"),
            // No autolinks inside <pre>, but the text stays link-free anyway.
            ':' if chars.peek() == Some(&'/') => out.push_str(":&#8203;"),
            '#' if chars.peek().is_some_and(char::is_ascii_digit) => out.push_str("#&#8203;"),
            '\r' => {}
            '\n' | '\t' => out.push(c),
            c if is_unsafe_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out.push_str("</pre>");
    out
}

/// Encodes a URL for the target of a markdown link `[text](url)`.
///
/// Only `https://` and `http://` URLs are accepted (anything else, such as
/// `javascript:`, yields `None`); characters that could end the link target or
/// start markup are percent-encoded.
pub fn link_target(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for c in url.trim().chars() {
        match c {
            '(' | ')' | '<' | '>' | '"' | '\'' | '`' | ' ' | '[' | ']' | '\\' | '|' | '@' => {
                out.push_str(&format!("%{:02X}", c as u32));
            }
            c if c.is_control() || is_unsafe_control(c) => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// Encodes `text` for the surfaces GitHub shows as plain text, not markdown:
/// check-run titles, annotation titles and messages, step outputs. Nothing
/// there is linked or parsed, so the text is kept as it reads; control
/// characters and bidirectional overrides become U+FFFD, and a forged
/// marker is broken in case the text is ever pasted into markdown.
pub fn plain(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if is_unsafe_control(c) { '\u{FFFD}' } else { c })
        .collect();
    defuse_markers(&cleaned)
}

/// Removes any `<!-- phasegate:` marker from markdown that reaches us from
/// elsewhere (section content, override templates): only the renderer itself
/// writes markers, so the sticky-comment code can trust every one it finds.
pub fn defuse_markers(markdown: &str) -> String {
    const MARKER: &str = "<!-- phasegate:";
    if !markdown.contains(MARKER) {
        return markdown.to_owned();
    }
    markdown.replace(MARKER, "&lt;!-- phasegate:")
}

/// Control characters other than line breaks and tab, and the Unicode
/// bidirectional formatting characters.
fn is_unsafe_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\r' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_leaves_no_markup_characters() {
        let hostile = "a`b</details><!-- phasegate:change=x -->|*_[x](y)@octocat #1 $x$ \\ ~";
        let out = inline(hostile);
        for forbidden in ['<', '>', '`', '|', '*', '_', '[', ']', '@', '$', '\\', '~'] {
            // `<br>` is the only tag inline() writes, and only for line breaks.
            assert!(!out.contains(forbidden), "{forbidden:?} survived in {out}");
        }
        assert!(
            !out.contains("octocat #1"),
            "issue reference survived: {out}"
        );
        assert!(out.contains("&#64;&#8203;octocat"));
    }

    #[test]
    fn inline_breaks_www_autolinks() {
        assert_eq!(
            inline("see www.evil.example"),
            "see www&#8203;.evil.example"
        );
        assert_eq!(inline("WWW.x"), "WWW&#8203;.x");
    }

    #[test]
    fn inline_turns_line_breaks_into_br_so_a_value_stays_on_one_line() {
        assert_eq!(inline("a\nb\r\nc\rd"), "a<br>b<br>c<br>d");
    }

    #[test]
    fn inline_replaces_bidi_overrides_and_controls() {
        assert_eq!(inline("a\u{202E}b\u{0007}c"), "a\u{FFFD}b\u{FFFD}c");
    }

    #[test]
    fn code_block_cannot_be_closed_from_inside() {
        let out = code_block("x</pre></details>\n<!-- phasegate:y -->@octocat");
        assert_eq!(out.matches("</pre>").count(), 1);
        assert!(out.ends_with("</pre>"));
        assert!(!out.contains("</details>"));
        assert!(!out.contains("<!--"));
        assert!(!out.contains("@octocat"));
        assert!(out.contains('\n'), "line breaks are kept verbatim");
    }

    #[test]
    fn link_target_refuses_script_urls_and_encodes_parentheses() {
        assert_eq!(link_target("javascript:alert(1)"), None);
        assert_eq!(
            link_target("https://github.com/o/r/actions/runs/1) [x](y").as_deref(),
            Some("https://github.com/o/r/actions/runs/1%29%20%5Bx%5D%28y")
        );
    }

    #[test]
    fn plain_keeps_the_words_and_drops_controls_and_markers() {
        assert_eq!(plain("a @b #1\n"), "a @b #1\n");
        assert_eq!(plain("x\u{202E}y\u{1b}"), "x\u{FFFD}y\u{FFFD}");
        assert!(!plain("<!-- phasegate:x -->").contains("<!-- phasegate:"));
    }

    #[test]
    fn defuse_markers_breaks_forged_markers() {
        let out = defuse_markers("ok <!-- phasegate:details --> ok");
        assert!(!out.contains("<!-- phasegate:"));
    }
}
