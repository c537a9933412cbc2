-- Scan history. Portable SQL: it runs unchanged on SQLite and PostgreSQL, except the `id`
-- column, which PostgreSQL spells `BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`.
-- Timestamps are RFC 3339 text in UTC, so both engines sort them the same way.

CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    mode TEXT NOT NULL,
    -- running (also what a killed process leaves), complete, incomplete, interrupted, failed
    status TEXT NOT NULL,
    spec_hash TEXT,
    config_hash TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    checks_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_ms BIGINT,
    requests_sent BIGINT,
    score INTEGER,
    grade TEXT,
    finding_count INTEGER,
    error TEXT,
    -- The JSON report, redacted and with evidence capped, exactly as `--format json` writes it.
    report_json TEXT
);

CREATE INDEX scans_target_id ON scans (target, id);

CREATE TABLE findings (
    scan_id BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    check_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    method TEXT,
    path TEXT,
    parameter TEXT,
    PRIMARY KEY (scan_id, fingerprint)
);

CREATE INDEX findings_fingerprint ON findings (fingerprint);
