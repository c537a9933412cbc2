//! A string for a simple `pattern`: literals, classes, `\d \w \s`, groups, alternation (the
//! first branch is taken) and quantifiers. Anything more (look-around, back-references,
//! Unicode properties, POSIX classes) gives `None`, and the caller falls back to an
//! unconstrained string; callers also check the result with a real regex engine, so a wrong
//! guess here is caught rather than sent as "valid".

/// Longest string this generator will produce; patterns asking for more are not "simple".
const MAX_OUTPUT: usize = 4096;
const MAX_REPEAT: u32 = 256;

#[derive(Debug)]
enum Node {
    Lit(char),
    Seq(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

/// A string matching `pattern`, at least `min_len` characters long when the pattern allows it.
pub(crate) fn generate(pattern: &str, min_len: usize) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut p = Parser { chars, pos: 0 };
    let node = p.alternation()?;
    if p.pos != p.chars.len() {
        return None;
    }
    let mut out = String::new();
    render(&node, 0, &mut out)?;
    if out.chars().count() < min_len {
        out.clear();
        render(&node, min_len as u32, &mut out)?;
    }
    Some(out)
}

fn render(node: &Node, extra: u32, out: &mut String) -> Option<()> {
    match node {
        Node::Lit(c) => out.push(*c),
        Node::Seq(items) => {
            for n in items {
                render(n, extra, out)?;
            }
        }
        Node::Repeat(inner, min, max) => {
            let count = match max {
                None => (*min).max(1).saturating_add(extra),
                Some(max) => min.saturating_add(extra).min(*max),
            };
            for _ in 0..count.min(MAX_REPEAT) {
                render(inner, extra, out)?;
                if out.len() > MAX_OUTPUT {
                    return None;
                }
            }
        }
    }
    Some(())
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// `a|b|c`: every branch is parsed (to find where the group ends), the first is kept.
    fn alternation(&mut self) -> Option<Node> {
        let first = self.sequence()?;
        while self.peek() == Some('|') {
            self.pos += 1;
            self.sequence()?;
        }
        Some(first)
    }

    fn sequence(&mut self) -> Option<Node> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let Some(atom) = self.atom()? else { continue };
            let atom = self.quantified(atom)?;
            items.push(atom);
        }
        Some(Node::Seq(items))
    }

    /// One atom; `Some(None)` for zero-width items (anchors), `None` when unsupported.
    fn atom(&mut self) -> Option<Option<Node>> {
        let c = self.next()?;
        let node = match c {
            '^' | '$' => return Some(None),
            '.' => Node::Lit('a'),
            '(' => {
                if self.peek() == Some('?') {
                    self.pos += 1;
                    match self.next()? {
                        ':' => {}
                        kind @ ('P' | '<') => {
                            if kind == 'P' {
                                (self.next()? == '<').then_some(())?;
                            }
                            // `(?<=` / `(?<!` are look-behinds, not names.
                            if matches!(self.peek(), Some('=' | '!')) {
                                return None;
                            }
                            while self.next()? != '>' {}
                        }
                        _ => return None,
                    }
                }
                let inner = self.alternation()?;
                (self.next()? == ')').then_some(())?;
                inner
            }
            '[' => Node::Lit(self.class()?),
            '\\' => match self.escape()? {
                Esc::Char(c) => Node::Lit(c),
                Esc::Anchor => return Some(None),
                Esc::Set(set) => Node::Lit(set.pick()),
            },
            ')' | '*' | '+' | '?' => return None,
            other => Node::Lit(other),
        };
        Some(Some(node))
    }

    fn quantified(&mut self, atom: Node) -> Option<Node> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.braces() {
                Some(q) => q,
                None => return Some(atom),
            },
            _ => return Some(atom),
        };
        self.pos += 1;
        if matches!(self.peek(), Some('?' | '+')) {
            self.pos += 1; // lazy or possessive: the same strings match
        }
        if max.is_some_and(|m| m < min) || min > MAX_REPEAT {
            return None;
        }
        Some(Node::Repeat(Box::new(atom), min, max))
    }

    /// `{n}`, `{n,}`, `{n,m}`, leaving `pos` on the closing brace (which `quantified` steps
    /// over like a one-character quantifier). A `{` that is not a quantifier is left for the
    /// caller to read as a literal.
    fn braces(&mut self) -> Option<(u32, Option<u32>)> {
        let rest: String = self.chars[self.pos..].iter().take(24).collect();
        let close = rest.find('}')?;
        let body = &rest[1..close];
        let (min, max) = match body.split_once(',') {
            None => {
                let n = body.parse().ok()?;
                (n, Some(n))
            }
            Some((a, "")) => (a.parse().ok()?, None),
            Some((a, b)) => (a.parse().ok()?, Some(b.parse().ok()?)),
        };
        // `close` counts chars of an ASCII body, so it is also a char offset.
        self.pos += close;
        Some((min, max))
    }

    fn escape(&mut self) -> Option<Esc> {
        let c = self.next()?;
        Some(match c {
            'd' => Esc::Set(Set::digit()),
            'w' => Esc::Set(Set::word()),
            's' => Esc::Set(Set::space()),
            'D' => Esc::Set(Set::negated(Set::digit())),
            'W' => Esc::Set(Set::negated(Set::word())),
            'S' => Esc::Set(Set::negated(Set::space())),
            'b' | 'B' | 'A' | 'z' | 'Z' | 'G' => Esc::Anchor,
            'n' => Esc::Char('\n'),
            't' => Esc::Char('\t'),
            'r' => Esc::Char('\r'),
            'f' => Esc::Char('\u{c}'),
            'v' => Esc::Char('\u{b}'),
            'x' => Esc::Char(self.hex(2)?),
            'u' => Esc::Char(self.hex(4)?),
            c if c.is_ascii_alphanumeric() => return None, // \p, \1, \k, …
            c => Esc::Char(c),
        })
    }

    fn hex(&mut self, n: usize) -> Option<char> {
        let digits: String = (0..n).map(|_| self.next()).collect::<Option<_>>()?;
        char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
    }

    /// A character class after its `[`: the first member, or for a negated class a plain
    /// character outside it.
    fn class(&mut self) -> Option<char> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut set = Set::default();
        let mut first = true;
        loop {
            let c = self.next()?;
            match c {
                ']' if !first => break,
                '[' if self.peek() == Some(':') => return None,
                '\\' => match self.escape()? {
                    Esc::Char(c) => self.member(&mut set, c)?,
                    Esc::Set(s) => set.absorb(s),
                    Esc::Anchor => return None,
                },
                c => self.member(&mut set, c)?,
            }
            first = false;
        }
        if negated {
            set = Set::negated(set);
        }
        (!set.is_empty_positive()).then(|| set.pick())
    }

    /// A class member `c`, or the range `c-d` when a `-` and an end follow.
    fn member(&mut self, set: &mut Set, c: char) -> Option<()> {
        if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
            self.pos += 1;
            let mut hi = self.next()?;
            if hi == '\\' {
                match self.escape()? {
                    Esc::Char(h) => hi = h,
                    _ => return None,
                }
            }
            if hi < c {
                return None;
            }
            set.ranges.push((c, hi));
        } else {
            set.ranges.push((c, c));
        }
        Some(())
    }
}

enum Esc {
    Char(char),
    Set(Set),
    Anchor,
}

/// A set of characters as ranges, possibly negated.
#[derive(Debug, Default)]
struct Set {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl Set {
    fn digit() -> Set {
        Set {
            ranges: vec![('0', '9')],
            negated: false,
        }
    }

    fn word() -> Set {
        Set {
            ranges: vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')],
            negated: false,
        }
    }

    fn space() -> Set {
        Set {
            ranges: vec![(' ', ' '), ('\t', '\r')],
            negated: false,
        }
    }

    fn negated(mut s: Set) -> Set {
        s.negated = !s.negated;
        s
    }

    fn absorb(&mut self, other: Set) {
        if other.negated {
            // `[\D…]`-style unions are rare; keep only what is sure to be in the set.
            self.ranges.push(('a', 'a'));
        } else {
            self.ranges.extend(other.ranges);
        }
    }

    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }

    fn is_empty_positive(&self) -> bool {
        !self.negated && self.ranges.is_empty()
    }

    /// A readable member: for a positive set, its first member (digits prefer `1` so numbers
    /// have no leading zero); for a negated one, the first plain character outside it.
    fn pick(&self) -> char {
        if !self.negated {
            let (lo, hi) = self.ranges[0];
            return if lo <= '1' && '1' <= hi { '1' } else { lo };
        }
        "axbz1_-A.Q"
            .chars()
            .find(|&c| self.contains(c))
            .unwrap_or('~')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, min_len: usize) -> String {
        let s = generate(pattern, min_len).unwrap_or_else(|| panic!("no string for {pattern}"));
        let re = regex::Regex::new(pattern).unwrap();
        assert!(re.is_match(&s), "{s:?} does not match {pattern}");
        s
    }

    #[test]
    fn simple_patterns_produce_matching_strings() {
        for p in [
            r"^[a-z]+$",
            r"^\d{3}-\d{4}$",
            r"^[A-Z]{2}[0-9]{2,4}$",
            r"^(?:foo|bar)_\w+$",
            r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
            r"^\+?[0-9]{10,15}$",
            r"^[a-zA-Z0-9_.-]{3,16}$",
            r"^#[0-9a-fA-F]{6}$",
            r"^(?P<year>\d{4})-(?<m>\d{2})$",
            r"^v\d+(\.\d+)*$",
            r"^[\]a]$",
            r"^a{2}b?c*$",
            r"ORD-\d{6}",
            r"^\x41\u0042$",
        ] {
            check(p, 0);
        }
    }

    #[test]
    fn min_length_grows_repetitions() {
        let s = check(r"^[a-z]+$", 8);
        assert!(s.len() >= 8);
        let s = check(r"^[a-z]{2,20}$", 5);
        assert!(s.len() >= 5);
    }

    #[test]
    fn unsupported_features_give_none() {
        for p in [
            r"(?=a)b",
            r"(a)\1",
            r"\p{L}+",
            r"[[:alpha:]]",
            r"(?<!x)y",
            "a)",
            "*a",
        ] {
            assert_eq!(generate(p, 0), None, "{p}");
        }
        assert_eq!(generate("a{100000}", 0), None);
    }

    #[test]
    fn literal_braces_are_literals() {
        assert_eq!(generate("a{b}", 0).as_deref(), Some("a{b}"));
    }
}
