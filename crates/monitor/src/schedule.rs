//! When a target scans next: every N seconds, or at a five-field cron expression's next
//! minute (UTC).

/// The shortest interval a target may ask for unless `serve --min-interval` says otherwise:
/// a schedule is for watching an API over time, not for load.
pub const MIN_INTERVAL_SECS: u64 = 60;

/// `interval` (seconds, at least `min_interval`) or `cron`; an error says what is wrong.
pub fn validate(kind: &str, value: &str, min_interval: u64) -> Result<(), String> {
    if kind == "interval" {
        let secs: u64 = value
            .parse()
            .map_err(|_| format!("schedule interval {value:?}: a number of seconds"))?;
        if secs < min_interval.max(1) {
            return Err(format!(
                "schedule interval: at least {} seconds",
                min_interval.max(1)
            ));
        }
    }
    next_after(kind, value, 0).map(|_| ())
}

/// The first run strictly after `now_ms` (milliseconds since the epoch).
pub fn next_after(kind: &str, value: &str, now_ms: i64) -> Result<i64, String> {
    match kind {
        "interval" => {
            let secs: i64 = value
                .parse()
                .map_err(|_| format!("schedule interval {value:?}: a number of seconds"))?;
            if secs < 1 {
                return Err("schedule interval: at least 1 second".into());
            }
            Ok(now_ms + secs * 1000)
        }
        "cron" => {
            let cron = croner::Cron::new(value)
                .parse()
                .map_err(|e| format!("schedule cron {value:?}: {e}"))?;
            let now = chrono::DateTime::from_timestamp_millis(now_ms)
                .ok_or("schedule: time out of range")?;
            cron.find_next_occurrence(&now, false)
                .map(|t| t.timestamp_millis())
                .map_err(|e| format!("schedule cron {value:?}: {e}"))
        }
        other => Err(format!("schedule kind {other:?}: interval or cron")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_cron_expressions_give_the_next_run() {
        assert_eq!(next_after("interval", "3600", 1_000).unwrap(), 3_601_000);
        assert!(validate("interval", "5", MIN_INTERVAL_SECS).is_err());
        assert!(validate("interval", "60", MIN_INTERVAL_SECS).is_ok());
        assert!(validate("interval", "5", 5).is_ok());
        assert!(validate("interval", "0", 0).is_err());
        // 2026-01-01T00:00:30Z -> the next quarter hour.
        let t = 1_767_225_630_000;
        assert_eq!(
            next_after("cron", "*/15 * * * *", t).unwrap(),
            1_767_226_500_000
        );
        assert!(validate("cron", "every day", 60).is_err());
        assert!(validate("weekly", "1", 60).is_err());
    }
}
