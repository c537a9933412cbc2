//! Baseline files: findings a team has accepted, by fingerprint (the report's finding `id`),
//! each with a reason and an optional last day. TOML, because people edit and review it:
//!
//! ```toml
//! [[accept]]
//! id = "2a461ce94c869466"
//! check = "auth.missing-authentication"   # for the reader; matching uses `id` only
//! location = "GET /users/{id}"             # for the reader
//! reason = "public catalogue, by design"
//! expires = "2026-06-30"                   # optional; the entry holds through this day (UTC)
//! ```
//!
//! Applying it moves matched findings out of `findings` into `baseline.suppressed`
//! diagnostics and recomputes the score without them, so neither gate counts them; an expired
//! entry leaves its finding in place with a `baseline.expired` warning, and an entry that
//! matched nothing is named (`baseline.unmatched`) so fixed findings get cleaned out, unless
//! the scan did not run the entry's check there (`baseline.not-retested`: keep it).

use anyhow::{bail, Context, Result};
use middlebrick_model::{Diagnostic, Report};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    #[serde(default)]
    pub accept: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A calendar date as `YYYY-MM-DD`, compared as a number (`20260630`).
pub fn parse_date(s: &str) -> Result<u32> {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        bail!("`{s}` is not a date as YYYY-MM-DD");
    }
    let (y, m, d): (u32, u32, u32) = (parts[0].parse()?, parts[1].parse()?, parts[2].parse()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        bail!("`{s}` is not a date as YYYY-MM-DD");
    }
    Ok(y * 10_000 + m * 100 + d)
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's days-to-civil, so the binary
/// needs no date crate for a date and a timestamp.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64
}

/// Today in UTC as `YYYYMMDD`.
pub fn today() -> u32 {
    let (y, m, d) = civil(unix_now().div_euclid(86_400));
    (y * 10_000 + m * 100 + d) as u32
}

/// Now in UTC, RFC 3339 to the second (`2026-01-02T03:04:05Z`).
pub fn now_rfc3339() -> String {
    let now = unix_now();
    let (y, m, d) = civil(now.div_euclid(86_400));
    let s = now.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

impl Baseline {
    pub fn read(path: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the baseline {}", path.display()))?;
        let b: Baseline = toml::from_str(&text)
            .with_context(|| format!("parsing the baseline {}", path.display()))?;
        for e in &b.accept {
            if e.reason.trim().is_empty() {
                bail!("baseline {}: entry {} has no reason", path.display(), e.id);
            }
            if let Some(x) = &e.expires {
                parse_date(x).with_context(|| format!("baseline entry {}", e.id))?;
            }
        }
        Ok(b)
    }

    /// Applies the baseline on `today` (`YYYYMMDD`); `rescore` recomputes score and grade from
    /// the findings that remain.
    pub fn apply(&self, report: &mut Report, today: u32, rescore: impl Fn(&mut Report)) {
        let mut matched = vec![false; self.accept.len()];
        let mut kept = Vec::new();
        let mut notes = Vec::new();
        for f in std::mem::take(&mut report.findings) {
            let Some(i) = self.accept.iter().position(|e| e.id == f.id) else {
                kept.push(f);
                continue;
            };
            matched[i] = true;
            let e = &self.accept[i];
            let expired = e
                .expires
                .as_deref()
                .and_then(|x| parse_date(x).ok())
                .is_some_and(|last| today > last);
            let what = format!("{} ({}) [{}]", f.title, f.check, f.id);
            if expired {
                notes.push(
                    Diagnostic::warning(
                        "baseline.expired",
                        format!(
                            "{what}: the acceptance expired on {} and the finding counts again (reason was: {})",
                            e.expires.as_deref().unwrap_or(""),
                            e.reason
                        ),
                    )
                    .on(f.location())
                    .hint("fix the finding, or renew the entry's `expires` in the baseline"),
                );
                kept.push(f);
            } else {
                let until = e
                    .expires
                    .as_deref()
                    .map(|x| format!(" until {x}"))
                    .unwrap_or_default();
                notes.push(
                    Diagnostic::info(
                        "baseline.suppressed",
                        format!("{what}: accepted{until}: {}", e.reason),
                    )
                    .on(f.location()),
                );
            }
        }
        for (e, m) in self.accept.iter().zip(matched) {
            if let Some(why) = (!m).then(|| not_retested(report, e)).flatten() {
                notes.push(
                    Diagnostic::info(
                        "baseline.not-retested",
                        format!(
                            "baseline entry {} matched no finding, but this scan did not look for it: {why}",
                            e.id
                        ),
                    )
                    .hint("keep the entry until a scan that runs its check says it is gone"),
                );
            } else if !m {
                notes.push(
                    Diagnostic::info(
                        "baseline.unmatched",
                        format!("baseline entry {} matched no finding", e.id),
                    )
                    .hint("the finding is gone: remove the entry from the baseline"),
                );
            }
        }
        report.findings = kept;
        report.diagnostics.extend(notes);
        rescore(report);
    }

    /// Accepts every finding of `report` with `reason`, keeping entries already present.
    pub fn extend_from(&mut self, report: &Report, reason: &str, expires: Option<&str>) {
        for f in &report.findings {
            if self.accept.iter().any(|e| e.id == f.id) {
                continue;
            }
            self.accept.push(Entry {
                id: f.id.clone(),
                check: Some(f.check.to_string()),
                location: Some(f.location()),
                reason: reason.to_string(),
                expires: expires.map(str::to_string),
            });
        }
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!(
            "# middlebrick baseline: accepted findings, matched by `id` (the report's finding id).\n\
             # An entry holds through its `expires` day (UTC); then the finding counts again.\n\n{body}"
        )
    }
}

/// Why this scan cannot say an entry's finding is gone (`Report::not_retested`), from the
/// check and location the entry names; an entry without them is judged by the records alone.
fn not_retested(report: &Report, e: &Entry) -> Option<String> {
    let Some(check) = e.check.as_deref().and_then(|c| c.parse().ok()) else {
        return report
            .coverage
            .checks
            .is_empty()
            .then(|| "the report does not record which checks ran".to_string());
    };
    let op = e.location.as_deref().filter(|l| !l.starts_with('('));
    report.not_retested(check, op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_compare() {
        assert_eq!(parse_date("2026-06-30").unwrap(), 20_260_630);
        assert!(parse_date("2026-6-30").is_err());
        assert!(parse_date("2026-13-01").is_err());
        assert!(parse_date("tomorrow").is_err());
        let t = today();
        assert!(t > 20_250_000 && t < 30_000_000, "{t}");
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_454), (2026, 1, 1));
        assert_eq!(now_rfc3339().len(), 20);
    }
}
