-- The monitoring service's tables (`middlebrick serve` / `middlebrick worker`). One file for
-- SQLite, PostgreSQL and CockroachDB: text ids made by the service (no autoincrement, whose
-- spelling differs), BIGINT everywhere a number is stored (the PostgreSQL client binds 64-bit
-- integers only to BIGINT), times as milliseconds since the Unix epoch (compared in SQL for
-- leases and schedules), no engine-specific type or function.

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    -- SHA-256 of the key; the key itself is shown once and never stored.
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    -- Scans this key may create per rolling hour (429 beyond).
    scans_per_hour BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE targets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    spec TEXT,
    -- JSON; credentials only as references to environment variables (`env:NAME`).
    config_json TEXT NOT NULL,
    mode TEXT NOT NULL,
    -- Comma-separated check ids; empty for every check.
    checks TEXT NOT NULL,
    -- NULL (on demand only), 'interval' (seconds) or 'cron' (five-field expression).
    schedule_kind TEXT,
    schedule TEXT,
    next_run_at BIGINT,
    -- Scans of this target that may run at once, across every worker.
    max_concurrent BIGINT NOT NULL,
    -- 'api' (our endpoints) or 'contract' (made by POST /api/scan).
    origin TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE INDEX targets_due ON targets (next_run_at);

-- A scan is a job in the queue: queued -> processing -> completed | failed, or back to queued
-- when its lease expires, and dead after too many attempts.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    target_id TEXT NOT NULL REFERENCES targets (id),
    -- 'manual', 'schedule' or 'contract'.
    trigger_kind TEXT NOT NULL,
    method TEXT NOT NULL,
    -- Encrypted request headers of a contract scan (never returned, never logged).
    sealed_headers TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    heartbeat_at BIGINT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    completed_at BIGINT,
    error TEXT,
    report_json TEXT,
    score BIGINT,
    grade TEXT,
    -- JSON object: category -> 0..100.
    categories_json TEXT,
    finding_count BIGINT
);

CREATE INDEX jobs_status_created ON jobs (status, created_at);
CREATE INDEX jobs_target_created ON jobs (target_id, created_at);
CREATE INDEX jobs_key_created ON jobs (created_by, created_at);

-- Findings of a scan, keyed by the scan and the finding's stable fingerprint: a job that runs
-- again after a lost lease writes each finding once.
CREATE TABLE job_findings (
    scan_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    check_id TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    location TEXT NOT NULL,
    description TEXT NOT NULL,
    remediation TEXT NOT NULL,
    PRIMARY KEY (scan_id, fingerprint)
);

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    -- NULL: every target.
    target_id TEXT REFERENCES targets (id),
    url TEXT NOT NULL,
    -- The signing secret as a reference (`env:NAME`), never the secret.
    secret_ref TEXT NOT NULL,
    -- JSON rules: events and thresholds.
    rules_json TEXT NOT NULL,
    slack BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    scan_id TEXT REFERENCES jobs (id),
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- pending, delivered, failed
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (webhook_id, scan_id, event)
);

CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
