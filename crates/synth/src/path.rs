//! Path templates: finding `{name}` placeholders, filling them with percent-encoded values, and
//! the prefixes the id pool keys collections by.
//!
//! Values are encoded as RFC 3986 path segments keeping only the unreserved characters
//! (`A-Z a-z 0-9 - . _ ~`) as they are. The sub-delimiters `; , = +` are legal in a segment but
//! some servers give them meaning (matrix parameters, `;jsessionid`), so a value always stays
//! one opaque segment. A value of exactly `.` or `..` cannot be protected: URL parsers treat its
//! encoded form as a dot segment too.

/// The path with `{name}` placeholders filled, percent-encoding each value (RFC 3986 path
/// segment). Placeholders without a value are left as they are.
pub fn fill_path(template: &str, values: &[(String, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        match values.iter().find(|(n, _)| n == name) {
            Some((_, v)) => out.push_str(&encode_segment(v)),
            None => out.push_str(&rest[open..=close]),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Percent-encodes everything but the RFC 3986 unreserved characters, byte by byte (UTF-8).
pub(crate) fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
    }
    out
}

fn hex_digit(n: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(n)])
}

/// The placeholder names of a template, in order (`/a/{x}/b/{y}.json` -> `x`, `y`).
pub(crate) fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        names.push(&rest[open + 1..close]);
        rest = &rest[close + 1..];
    }
    names
}

/// The part of the template before the segment holding `{param}`, without a trailing slash,
/// and the literal segment just before it (`/users/{u}/orders/{o}`, `o` ->
/// (`/users/{u}/orders`, `orders`)).
pub(crate) fn prefix_before<'a>(
    template: &'a str,
    param: &str,
) -> Option<(&'a str, Option<&'a str>)> {
    let needle = format!("{{{param}}}");
    let at = template.find(&needle)?;
    let seg_start = template[..at].rfind('/').unwrap_or(0);
    let prefix = template[..seg_start].trim_end_matches('/');
    let prev = prefix
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty() && !s.contains('{'));
    Some((prefix, prev))
}

/// A path without query, fragment or trailing slash, as the pool keys collections.
pub(crate) fn clean(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let p = path[..end].trim_end_matches('/');
    if p.is_empty() {
        "/"
    } else {
        p
    }
}

/// The collection an object answer belongs to: the path without its last segment when that
/// segment is a placeholder (or, for a concrete path, when the template's is).
pub(crate) fn parent_if_item<'a>(template: &str, path: &'a str) -> &'a str {
    let template = clean(template);
    let last_is_param = template
        .rsplit('/')
        .next()
        .is_some_and(|s| s.starts_with('{') && s.ends_with('}'));
    let path = clean(path);
    if last_is_param {
        match path.rfind('/') {
            Some(0) => "/",
            Some(i) => &path[..i],
            None => path,
        }
    } else {
        path
    }
}

/// The last segment that is not a placeholder (`/users/{id}/orders` -> `orders`).
pub(crate) fn last_literal_segment(template: &str) -> Option<&str> {
    clean(template)
        .rsplit('/')
        .find(|s| !s.is_empty() && !s.contains('{'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn fill_path_encodes_slash_space_and_unicode() {
        let t = "/files/{name}/v/{id}";
        assert_eq!(
            fill_path(t, &vals(&[("name", "a/b c"), ("id", "é€")])),
            "/files/a%2Fb%20c/v/%C3%A9%E2%82%AC"
        );
        assert_eq!(
            fill_path("/x/{a}", &vals(&[("a", "-._~Az09")])),
            "/x/-._~Az09"
        );
        assert_eq!(
            fill_path("/x/{a}", &vals(&[("a", "?#%;=+")])),
            "/x/%3F%23%25%3B%3D%2B"
        );
    }

    #[test]
    fn fill_path_handles_partial_segments_and_missing_values() {
        assert_eq!(
            fill_path("/r/{id}.json", &vals(&[("id", "7")])),
            "/r/7.json"
        );
        assert_eq!(
            fill_path("/r/{id}/{other}", &vals(&[("id", "7")])),
            "/r/7/{other}"
        );
        assert_eq!(fill_path("/r/{broken", &[]), "/r/{broken");
    }

    #[test]
    fn placeholders_and_prefixes() {
        let t = "/users/{user_id}/orders/{order_id}";
        assert_eq!(placeholders(t), vec!["user_id", "order_id"]);
        assert_eq!(
            prefix_before(t, "order_id"),
            Some(("/users/{user_id}/orders", Some("orders")))
        );
        assert_eq!(prefix_before(t, "user_id"), Some(("/users", Some("users"))));
        assert_eq!(prefix_before("/{id}", "id"), Some(("", None)));
        assert_eq!(prefix_before(t, "nope"), None);
    }

    #[test]
    fn collections_of_item_answers() {
        assert_eq!(parent_if_item("/orders/{id}", "/orders/7"), "/orders");
        assert_eq!(parent_if_item("/orders", "/orders/"), "/orders");
        assert_eq!(parent_if_item("/{id}", "/7"), "/");
        assert_eq!(clean("/a/b/?x=1"), "/a/b");
        assert_eq!(
            last_literal_segment("/users/{id}/orders/{oid}"),
            Some("orders")
        );
        assert_eq!(last_literal_segment("/{id}"), None);
    }
}
