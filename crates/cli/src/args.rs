//! The command line, as the user wrote it. `config.rs` resolves it (with the config file) into
//! the engine's validated `ScanConfig`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use middlebrick_http::TransportConfig;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "middlebrick",
    version,
    about = "Black-box API security scanner: every finding comes with the exchanges that prove it.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan a running API.
    Scan(Box<ScanArgs>),
    /// List the check catalogue: id, title, CWE, OWASP API 2023, severity, kind.
    Checks(ChecksArgs),
    /// Check an OpenAPI description statically, sending no traffic.
    Audit(AuditArgs),
    /// Compare two scans (JSON report files or history ids): new, fixed and unchanged findings.
    Diff(DiffArgs),
    /// List recorded scans, or print one (`history show ID`).
    History(HistoryArgs),
    /// Serve the Model Context Protocol over stdio, for coding assistants (see docs/mcp.md).
    Mcp(McpArgs),
    /// Run the monitoring service: the HTTP API, schedules and scans (see docs/api.md).
    Serve(ServeArgs),
    /// Run scans for a `serve` process from a shared PostgreSQL database (a fleet worker).
    Worker(WorkerArgs),
    /// Manage the service's API keys (`key create`).
    Key(KeyArgs),
    /// Write a baseline file that accepts every finding of a JSON report.
    Baseline(BaselineArgs),
    /// Explain a check: what it looks for, its CWE/OWASP mappings and the remediation for a stack.
    Explain(ExplainArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print docs/cli.md, the command-line reference generated from this definition.
    #[command(hide = true)]
    CliDocs,
}

/// Where the report goes and when the run fails: shared by `scan` and `audit`.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Output and gate")]
pub struct ReportArgs {
    /// Output format: terminal, json, sarif, markdown, junit or html. Repeatable, paired in order with -o [default: terminal].
    #[arg(short = 'f', long = "format", value_name = "FORMAT")]
    pub formats: Vec<String>,

    /// Output file for the format in the same position; formats without one go to stdout, or to --output-dir.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub outputs: Vec<PathBuf>,

    /// Write each format without its own -o into DIR as report.<ext> (report.json, report.sarif, report.md, report.xml, report.html, report.txt). Without --format: json, sarif, markdown, junit and html, and the terminal summary on stdout.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Exit with code 1 when a finding at or above this severity is reported (critical, high, medium, low, info).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,

    /// Exit with code 1 when the score is below this: a number 0-100, or a grade A-F (A = 90, B = 80, C = 70, D = 60, F = 0).
    #[arg(long, value_name = "SCORE|GRADE")]
    pub min_score: Option<String>,

    /// Accepted findings (TOML, see docs/cli.md#baseline-files): they are reported as suppressed and not counted by the gates or the score; expired entries count again.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Show evidence and remediation in the terminal output.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The OpenAPI 2.0/3.0/3.1 file (JSON or YAML).
    #[arg(value_name = "SPEC")]
    pub spec: PathBuf,

    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier scan: a JSON report file (middlebrick scan --format json) or a history id.
    #[arg(value_name = "OLD")]
    pub old: String,

    /// The later scan: a JSON report file or a history id.
    #[arg(value_name = "NEW")]
    pub new: String,

    #[command(flatten)]
    pub history: HistoryPath,

    /// terminal or json.
    #[arg(
        short = 'f',
        long = "format",
        default_value = "terminal",
        value_name = "FORMAT"
    )]
    pub format: String,

    /// Exit with code 1 when a new finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
}

/// Where the scan history is kept.
#[derive(Debug, Args, Default, Clone)]
pub struct HistoryPath {
    /// The scan history database [default: history.sqlite3 in the user's data directory, $XDG_DATA_HOME/middlebrick on Linux].
    #[arg(long = "history", value_name = "PATH", env = "MIDDLEBRICK_HISTORY")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,

    /// Only scans of this target URL.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// At most this many scans, newest first.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: u32,

    /// terminal or json.
    #[arg(
        short = 'f',
        long = "format",
        default_value = "terminal",
        value_name = "FORMAT"
    )]
    pub format: String,

    #[command(flatten)]
    pub history: HistoryPath,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Print a recorded scan in any report format.
    Show(HistoryShowArgs),
}

#[derive(Debug, Args)]
pub struct HistoryShowArgs {
    /// The scan id (see `middlebrick history`).
    pub id: i64,

    /// terminal, json, sarif, markdown, junit or html.
    #[arg(
        short = 'f',
        long = "format",
        default_value = "terminal",
        value_name = "FORMAT"
    )]
    pub format: String,

    /// Show evidence and remediation in the terminal output.
    #[arg(short, long)]
    pub verbose: bool,

    #[command(flatten)]
    pub history: HistoryPath,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// A host the server may scan besides loopback and private addresses (host or host:port). Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,

    /// Allow `mode: active` scans (state-changing requests); without it they are refused whatever the tool call asks.
    #[arg(long)]
    pub allow_active: bool,

    /// Allow `mode: disposable` scans (writes to any object, for throw-away environments only); without it they are refused.
    #[arg(long)]
    pub allow_disposable: bool,

    #[command(flatten)]
    pub history: HistoryPath,

    /// Keep scans in memory only, for this session.
    #[arg(long, conflicts_with = "path")]
    pub no_history: bool,
}

/// What `serve` and `worker` share.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The service database: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite:// under the user's data directory].
    #[arg(long, value_name = "URL", env = "MIDDLEBRICK_DATABASE")]
    pub database: Option<String>,

    /// A host scans may reach besides loopback and private addresses (host or host:port). Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,

    /// Allow targets in `active` mode (state-changing requests); refused without it.
    #[arg(long)]
    pub allow_active: bool,

    /// Scans this process runs at once.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,

    /// Seconds a worker's claim on a scan lasts without a heartbeat before another worker may take it.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub lease: u64,

    /// Seconds a stopping process (SIGTERM) lets a running scan finish before giving it back to the queue.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    pub grace: u64,

    /// The file holding the key that seals request headers of POST /api/scan, when MIDDLEBRICK_SERVICE_KEY is not set [default: service.key in the user's data directory].
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address the API listens on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7474")]
    pub listen: std::net::SocketAddr,

    /// Checks a scan made by POST /api/scan runs (comma-separated ids) [default: every check].
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub contract_checks: Vec<String>,

    /// The shortest schedule interval a target may ask for, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub min_interval: u64,

    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key and print it once (the database keeps only its SHA-256).
    Create {
        /// The service database, as for `serve`.
        #[arg(long, value_name = "URL", env = "MIDDLEBRICK_DATABASE")]
        database: Option<String>,
        /// A name for the key (who or what uses it).
        #[arg(long, value_name = "TEXT", default_value = "default")]
        label: String,
        /// Scans the key may create per rolling hour (429 beyond).
        #[arg(long, value_name = "N", default_value_t = 60)]
        scans_per_hour: i64,
    },
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The JSON report whose findings are accepted.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,

    /// Why these findings are accepted (kept in every entry).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// The last day the entries hold (YYYY-MM-DD); after it the findings count again.
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,

    /// Write the baseline here; entries already in this file keep their reason and expiry. Default: stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Only GET/HEAD/OPTIONS requests the spec lists; only passive checks.
    Passive,
    /// Adds probes that change nothing: malformed input, missing credentials, other identities on reads; plus sign-in.
    Safe,
    /// May send state-changing requests, only to objects the scanner created and accounts it registered (DELETE also needs --allow-delete).
    Active,
    /// DISPOSABLE ENVIRONMENTS ONLY: writes to any object, the identities' own accounts and data included, and sends reads named for a state change (reset, seed, …). DELETE also needs --allow-delete.
    Disposable,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The API's base URL, e.g. http://127.0.0.1:5000
    pub url: String,

    /// OpenAPI 2.0/3.0/3.1 description (file or URL). Without it, middlebrick looks at the usual places, then crawls.
    #[arg(long, value_name = "FILE|URL")]
    pub spec: Option<String>,

    /// Configuration file (TOML: identities, limits, checks). Read only when given, or from MIDDLEBRICK_CONFIG.
    #[arg(long, value_name = "FILE", env = "MIDDLEBRICK_CONFIG")]
    pub config: Option<PathBuf>,

    /// How far the scan may go [default: safe, or the configuration file's `mode`].
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<ModeArg>,

    /// Allow DELETE requests (on objects the scanner created) in active mode; on any object in disposable mode.
    #[arg(long)]
    pub allow_delete: bool,

    /// Print the plan (operations x checks x methods) and send nothing but the spec discovery requests.
    #[arg(long)]
    pub dry_run: bool,

    /// A header for a quick single identity, as in curl: -H 'Authorization: Bearer …'. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// A cookie for that identity: --cookie 'session=…'. Repeatable.
    #[arg(long = "cookie", value_name = "NAME=VALUE")]
    pub cookies: Vec<String>,

    /// Only these checks (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub checks: Vec<String>,

    /// Skip these checks (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub skip_checks: Vec<String>,

    /// The longest access-token lifetime that is not reported (`90m`, `24h`, `7d`, seconds) [default: 24h].
    #[arg(long, value_name = "DURATION")]
    pub jwt_max_lifetime: Option<String>,

    /// The path on the target's origin that the spec's operation paths are joined to
    /// (`/api/v2`); without it, the spec's servers decide and the scan verifies them.
    #[arg(long, value_name = "PATH")]
    pub base_path: Option<String>,

    /// Another host that is in scope besides the target's origin (host or host:port). Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,

    /// Where injection.ssrf's callback listener binds [default: 127.0.0.1 on a free port, and only when the target is on this machine].
    #[arg(long, value_name = "ADDR:PORT")]
    pub callback_listen: Option<String>,

    /// The URL the target is told to call back, when it cannot reach the listen address as is (a port forward or tunnel to it); a token is appended as a path segment.
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,

    /// A collector of your own for blind SSRF beyond the local network: the target is told URLs on it carrying a token per input, and the report lists the tokens to look up there.
    #[arg(long, value_name = "URL")]
    pub callback_collector: Option<String>,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub history: HistoryPath,

    /// Do not record this scan in the history.
    #[arg(long, conflicts_with_all = ["path", "compare_last"])]
    pub no_history: bool,

    /// After the scan, report on stderr what is new or fixed since the previous recorded scan of the same target.
    #[arg(long)]
    pub compare_last: bool,

    /// Accept that a configured identity cannot sign in: the scan goes on without it. Without this flag such a scan exits 5.
    #[arg(long)]
    pub allow_failed_sign_in: bool,

    /// Accept that most operations the scan sent requests to never answered for real (only 404, 405, the not-found answer or errors). Without this flag such a scan exits 5.
    #[arg(long)]
    pub allow_unreached: bool,

    // Last: its help heading applies to what follows it.
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args, Default)]
pub struct LimitArgs {
    #[arg(long, value_name = "N", help = format!("Requests in flight at once [default: {}]", TransportConfig::default().concurrency))]
    pub concurrency: Option<usize>,

    #[arg(long, value_name = "PER_SECOND", help = format!("The most requests per second per host; under it the rate adapts to the target, starting at {} for loopback and private hosts and {} for others, rising while latency stays flat and backing off on 429, 503, errors and rising latency (docs/design/engine-limits.md); 0 = no limit at all [default: no cap]", TransportConfig::default().start_rate_local, TransportConfig::default().start_rate))]
    pub rate: Option<f64>,

    /// Keep the rate at --rate instead of adapting it.
    #[arg(long, requires = "rate")]
    pub fixed_rate: bool,

    #[arg(long, value_name = "SECONDS", help = format!("Total time per request [default: {}]", TransportConfig::default().request_timeout.as_secs()))]
    pub timeout: Option<u64>,

    #[arg(long, value_name = "SECONDS", help = format!("Connect timeout [default: {}]", TransportConfig::default().connect_timeout.as_secs()))]
    pub connect_timeout: Option<u64>,

    #[arg(long, value_name = "N", help = format!("Maximum requests for the whole scan [default: {}]", TransportConfig::default().budget.unwrap_or(0)))]
    pub budget: Option<u64>,

    #[arg(long, value_name = "SECONDS", help = format!("Maximum scan duration [default: {}]", TransportConfig::default().max_duration.map(|d| d.as_secs()).unwrap_or(0)))]
    pub max_duration: Option<u64>,

    #[arg(long, value_name = "BYTES", help = format!("Bytes read per response; the rest is not read [default: {}]", TransportConfig::default().max_response_bytes))]
    pub max_response_bytes: Option<usize>,

    /// Accept invalid TLS certificates (self-signed test servers only).
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// terminal or json
    #[arg(short = 'f', long = "format", default_value = "terminal")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The check id, e.g. injection.sql (see `middlebrick checks`).
    pub check: String,

    /// Technologies to show remediation for (comma-separated): flask, fastapi, psycopg, asyncpg, sqlalchemy, postgresql, cockroachdb. Every variant when omitted.
    #[arg(long, value_delimiter = ',', value_name = "TECHS")]
    pub stack: Vec<String>,
}
