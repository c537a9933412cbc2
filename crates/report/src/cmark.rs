//! Markdown (remediation, descriptions) to HTML for the HTML report, with `pulldown-cmark`.
//!
//! Descriptions can quote the target, so the Markdown is not trusted: raw HTML is shown as
//! text, and links and images keep only their text (the page is self-contained and opens
//! nothing). Everything else (paragraphs, emphasis, lists, code spans and fenced code blocks)
//! renders as written; pulldown-cmark escapes text and code itself.

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

pub fn to_html(markdown: &str) -> String {
    let events = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .filter_map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Some(Event::Text(t)),
        Event::Start(Tag::Link { .. } | Tag::Image { .. })
        | Event::End(TagEnd::Link | TagEnd::Image) => None,
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_blocks_and_spans_render() {
        let out = to_html("Use `get(id)`:\n\n```python\nif a < b:\n    pass\n```\n");
        assert!(out.contains("<p>Use <code>get(id)</code>:</p>"), "{out}");
        assert!(
            out.contains(
                "<pre><code class=\"language-python\">if a &lt; b:\n    pass\n</code></pre>"
            ),
            "{out}"
        );
    }

    #[test]
    fn raw_html_links_and_images_stay_text() {
        let out = to_html(
            "<script>alert(1)</script> [here](http://e.test) ![x](http://e.test/i.png) <b>b</b>",
        );
        assert!(!out.contains("<script") && !out.contains("<b>"), "{out}");
        assert!(!out.contains("<a ") && !out.contains("<img"), "{out}");
        assert!(
            out.contains("&lt;script&gt;") && out.contains("here"),
            "{out}"
        );
    }
}
