//! Realistic values from property names, for schemas that give no example: an `email` gets an
//! address, a `quantity` gets 1, a `website` gets a URL. A guess is only used when it satisfies
//! the schema (the caller checks), so a `phone` declared as an integer falls through to the
//! schema's own rules.
//!
//! Values are deterministic. The salt changes the values that must be unique per account
//! (email, username, slug) so the engine can register several accounts.

use crate::names::{normalize, words};

pub(crate) const PASSWORD: &str = "Mb-Str0ng!Passw0rd-2024";
pub(crate) const TEXT: &str = "middlebrick";
pub(crate) const URL: &str = "https://example.test/";
pub(crate) const UUID: &str = "6e1f5d3a-8b2c-4f7e-9a1d-2c3b4a5d6e7f";
pub(crate) const DATE: &str = "2024-01-15";
pub(crate) const DATE_TIME: &str = "2024-01-15T10:00:00Z";

/// A value suggested by a name, before it is fitted to the schema's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Hint {
    Text(String),
    Int(i64),
    Float(f64),
}

/// Eight hex digits derived from the salt (FNV-1a, stable across builds and platforms).
pub(crate) fn tag(salt: u64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", (h >> 32) as u32 ^ h as u32)
}

/// Eight decimal digits derived from the salt.
pub(crate) fn number(salt: u64) -> String {
    let h = u64::from_str_radix(&tag(salt), 16).unwrap_or(salt);
    format!("{:08}", h % 100_000_000)
}

/// `example.com`, not `example.test`: e-mail validators (pydantic's among them) refuse the
/// special-use `.test` domain, and a refused e-mail hides every flaw behind the validation.
pub(crate) fn email(salt: u64) -> String {
    format!("mb.{}@example.com", tag(salt))
}

pub(crate) fn username(salt: u64) -> String {
    format!("mb_user_{}", tag(salt))
}

/// The value a property or parameter name suggests, if any.
pub(crate) fn by_name(name: &str, salt: u64) -> Option<Hint> {
    let n = normalize(name);
    let w = words(name);
    let last = w.last().map(String::as_str).unwrap_or("");
    let text = |s: &str| Some(Hint::Text(s.to_string()));
    let has = |set: &[&str]| set.contains(&n.as_str()) || set.contains(&last);

    if n.contains("email") || has(&["mail"]) {
        return Some(Hint::Text(email(salt)));
    }
    if n.contains("password") || n.contains("passwd") || has(&["pwd", "pass", "passphrase"]) {
        return text(PASSWORD);
    }
    if has(&[
        "username",
        "login",
        "handle",
        "nickname",
        "screenname",
        "loginname",
    ]) {
        return Some(Hint::Text(username(salt)));
    }
    if has(&["slug"]) {
        return Some(Hint::Text(format!("middlebrick-{}", tag(salt))));
    }
    if has(&["firstname", "givenname", "forename"]) {
        return text("Middle");
    }
    if has(&["lastname", "surname", "familyname"]) {
        return text("Brick");
    }
    if has(&[
        "phone",
        "mobile",
        "tel",
        "telephone",
        "phonenumber",
        "cell",
        "fax",
        "msisdn",
    ]) {
        return text("+15555550123");
    }
    if has(&[
        "avatar",
        "image",
        "photo",
        "picture",
        "icon",
        "logo",
        "thumbnail",
    ]) {
        return text("https://example.test/mb.png");
    }
    if has(&[
        "url", "uri", "link", "href", "website", "homepage", "webhook", "callback",
    ]) {
        return text(URL);
    }
    if has(&["ip", "ipaddress", "ipv4"]) {
        return text("192.0.2.10");
    }
    if has(&["host", "hostname", "domain"]) {
        return text("example.test");
    }
    if let Some(h) = numeric_hint(&n, last) {
        return Some(h);
    }
    if let Some(h) = time_hint(&n, last) {
        return Some(h);
    }
    place_or_text_hint(&n, last, salt)
}

fn numeric_hint(n: &str, last: &str) -> Option<Hint> {
    let has = |set: &[&str]| set.contains(&n) || set.contains(&last);
    if has(&[
        "quantity", "qty", "count", "units", "copies", "seats", "number", "num",
    ]) {
        return Some(Hint::Int(1));
    }
    if has(&["price", "amount", "total", "cost", "subtotal", "fee"]) {
        return Some(Hint::Float(1.0));
    }
    if has(&["page", "pagenumber", "pageno"]) {
        return Some(Hint::Int(1));
    }
    if has(&[
        "limit",
        "perpage",
        "pagesize",
        "size",
        "pagelimit",
        "maxresults",
        "take",
        "first",
    ]) {
        return Some(Hint::Int(10));
    }
    if has(&["offset", "skip"]) {
        return Some(Hint::Int(0));
    }
    if has(&["age"]) {
        return Some(Hint::Int(30));
    }
    if has(&["year"]) {
        return Some(Hint::Int(2024));
    }
    if has(&["month"]) {
        return Some(Hint::Int(1));
    }
    if has(&["latitude", "lat"]) {
        return Some(Hint::Float(40.7128));
    }
    if has(&["longitude", "lon", "lng", "long"]) {
        return Some(Hint::Float(-74.006));
    }
    None
}

fn time_hint(n: &str, last: &str) -> Option<Hint> {
    let has = |set: &[&str]| set.contains(&n) || set.contains(&last);
    if has(&["birthday", "dob", "birthdate", "dateofbirth"]) {
        return Some(Hint::Text("1990-01-15".into()));
    }
    if has(&["date", "day", "since", "until"]) {
        return Some(Hint::Text(DATE.into()));
    }
    if has(&["at", "timestamp", "datetime", "time", "on"]) {
        return Some(Hint::Text(DATE_TIME.into()));
    }
    if has(&["timezone", "tz"]) {
        return Some(Hint::Text("UTC".into()));
    }
    None
}

fn place_or_text_hint(n: &str, last: &str, salt: u64) -> Option<Hint> {
    let has = |set: &[&str]| set.contains(&n) || set.contains(&last);
    let text = |s: &str| Some(Hint::Text(s.to_string()));
    if has(&["zip", "zipcode", "postalcode", "postcode", "postal"]) {
        return text("10001");
    }
    if has(&["city", "town"]) {
        return text("Springfield");
    }
    if has(&["country", "countrycode"]) {
        return text("US");
    }
    if has(&["street", "address", "address1", "addressline1", "line1"]) {
        return text("1 Main Street");
    }
    if has(&["currency", "currencycode"]) {
        return text("USD");
    }
    if has(&["language", "lang", "locale"]) {
        return text("en");
    }
    if has(&["color", "colour"]) {
        return text("#336699");
    }
    if has(&["uuid", "guid"]) {
        return text(UUID);
    }
    if has(&[
        "description",
        "comment",
        "body",
        "content",
        "message",
        "text",
        "note",
        "notes",
        "bio",
        "summary",
        "details",
        "review",
    ]) {
        return text("middlebrick test");
    }
    if has(&[
        "name",
        "title",
        "label",
        "subject",
        "heading",
        "caption",
        "company",
        "organization",
        "organisation",
    ]) {
        // APIs keep names unique or derive a unique slug from a title: a salted request (a
        // creation) gets its own. The suffix is digits only, so the name's letters are those of
        // the plain one and a text search matches scan-created objects as it did (a search for
        // `a` must not start matching them while an injection check compares two answers).
        return match salt {
            0 => text(TEXT),
            _ => Some(Hint::Text(format!("{TEXT}-{}", number(salt)))),
        };
    }
    if has(&[
        "q", "query", "search", "term", "keyword", "keywords", "tag", "tags",
    ]) {
        return text(TEXT);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> String {
        match by_name(name, 0) {
            Some(Hint::Text(s)) => s,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn names_suggest_realistic_values() {
        assert!(text("email").ends_with("@example.com"));
        assert!(text("contactEmail").starts_with("mb."));
        assert!(text("user_name").starts_with("mb_user_"));
        assert!(text("login").starts_with("mb_user_"));
        assert_eq!(text("password"), PASSWORD);
        assert_eq!(text("confirm_password"), PASSWORD);
        assert_eq!(text("title"), TEXT);
        assert_eq!(text("display_name"), TEXT);
        assert_eq!(text("website"), URL);
        assert_eq!(text("avatar_url"), URL);
        assert_eq!(text("phone_number"), "+15555550123");
        assert_eq!(text("created_at"), DATE_TIME);
        assert_eq!(text("start_date"), DATE);
        assert_eq!(by_name("quantity", 0), Some(Hint::Int(1)));
        assert_eq!(by_name("unit_price", 0), Some(Hint::Float(1.0)));
        assert_eq!(by_name("page_size", 0), Some(Hint::Int(10)));
        assert_eq!(by_name("order_id", 0), None);
        assert_eq!(by_name("is_active", 0), None);
    }

    #[test]
    fn salt_changes_unique_values_only() {
        assert_eq!(text("email"), text("email"));
        assert_ne!(by_name("email", 1), by_name("email", 2));
        assert_ne!(by_name("username", 1), by_name("username", 2));
        assert_eq!(by_name("description", 1), by_name("description", 2));
        assert_eq!(by_name("q", 1), by_name("q", 2));
        assert_eq!(tag(7).len(), 8);
    }

    #[test]
    fn a_salted_creation_gets_its_own_name_and_title() {
        // capital derives an article's unique slug from its title: two creations with one
        // title collide (the second answers 400).
        assert_eq!(by_name("title", 0), Some(Hint::Text(TEXT.into())));
        assert_ne!(by_name("title", 1), by_name("title", 2));
        assert_ne!(by_name("productName", 1), by_name("productName", 2));
        match by_name("title", 1) {
            Some(Hint::Text(t)) => {
                assert!(t.starts_with("middlebrick-") && t.len() == 20, "{t}");
                assert!(t[12..].chars().all(|c| c.is_ascii_digit()), "{t}");
            }
            other => panic!("{other:?}"),
        }
    }
}
