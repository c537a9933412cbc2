//! Test harness for black-box tests: prepares and starts the real target apps (Flask, FastAPI
//! on PostgreSQL) on free loopback ports, runs the real `middlebrick` binary, and reads the
//! ground-truth manifests.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Says that a test could not run here, on stdout and in `MIDDLEBRICK_NOT_RUN_LOG` when
/// `scripts/test.sh` set it, so that the summary at the end of the run lists it.
pub fn not_run(what: &str) {
    println!("not run: {what}");
    if let Some(path) = std::env::var_os("MIDDLEBRICK_NOT_RUN_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            let _ = writeln!(f, "{what}");
        }
    }
}

/// Runs `targets/setup.sh` once per test process (it is idempotent and quick when up to date).
/// Returns false, after saying why, when the targets cannot be prepared here; fails under CI.
pub fn targets_ready() -> bool {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let result = READY.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("targets/setup.sh"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("could not run targets/setup.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "targets/setup.sh failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    match result {
        Ok(()) => true,
        Err(why) => {
            if in_ci() {
                panic!("{why}");
            }
            eprintln!("target tests not run: {why}");
            not_run("the tests against the real targets (targets/setup.sh failed)");
            false
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A running target app; stopped (SIGTERM, so it drops its database) when dropped.
pub struct Target {
    child: Child,
    pub url: String,
    /// The app's own output, access log included.
    pub log: PathBuf,
    pub app: &'static str,
    pub variant: &'static str,
}

impl Target {
    pub fn start(app: &'static str, variant: &'static str) -> Target {
        Target::start_with_env(app, variant, &[])
    }

    /// [`Target::start`] with extra environment variables for the app (`MB_REQUEST_LOG`).
    pub fn start_with_env(
        app: &'static str,
        variant: &'static str,
        env: &[(&str, &Path)],
    ) -> Target {
        Target::launch(app, variant, env, None)
    }

    /// [`Target::start`] on a given port: the same address before and after a fix (another
    /// build of the app after the first is stopped), so scans of it are diffed as one target.
    pub fn start_on(app: &'static str, variant: &'static str, port: u16) -> Target {
        Target::launch(app, variant, &[], Some(port))
    }

    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    fn launch(
        app: &'static str,
        variant: &'static str,
        env: &[(&str, &Path)],
        fixed_port: Option<u16>,
    ) -> Target {
        let root = repo_root();
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let port = fixed_port.unwrap_or_else(free_port);
            let log = std::env::temp_dir().join(format!("mb-target-{app}-{variant}-{port}.log"));
            let log_file = std::fs::File::create(&log).expect("log file");
            let child = Command::new(root.join("targets/.venv/bin/python"))
                .arg(root.join("targets/serve.py"))
                .args([app, variant, "--port", &port.to_string()])
                .current_dir(&root)
                .envs(env.iter().copied())
                .stdout(log_file.try_clone().expect("log"))
                .stderr(log_file)
                .spawn()
                .expect("start target");
            let mut target = Target {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log: log.clone(),
                app,
                variant,
            };
            if target.wait_ready(Duration::from_secs(40)) {
                return target;
            }
            last_err = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("{app} {variant} did not become ready:\n{last_err}");
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        let addr = self.url.trim_start_matches("http://").to_string();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req =
                    format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                if s.write_all(req.as_bytes()).is_ok() {
                    let mut buf = String::new();
                    let _ = s.read_to_string(&mut buf);
                    if buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200") {
                        return true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        false
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless Chromium from scripts/chromium.sh (the HTML report and the dashboard tests) (installs Debian's package when missing).
pub fn chromium() -> Option<String> {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/chromium.sh"))
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !path.is_empty()).then_some(path)
}

pub fn chromium_cmd(browser: &str, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Distinct colours in a PNG (sampled every 4th pixel), decoded by a few lines of Python with
/// zlib: python3 is on every test machine (the targets need it), and no PNG crate is needed.
pub fn png_colours(png: &Path) -> Option<usize> {
    let script = r#"
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
pos, idat, w, h, ct = 8, b'', 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos+8])
    body = data[pos+8:pos+8+n]
    if kind == b'IHDR':
        w, h, depth, ct = struct.unpack('>IIBB', body[:10])
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
bpp = {2: 3, 6: 4}[ct]
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours = set()
for y in range(h):
    f = raw[y*(stride+1)]
    line = bytearray(raw[y*(stride+1)+1:(y+1)*(stride+1)])
    for i in range(stride):
        a = line[i-bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i-bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p-a), abs(p-b), abs(p-c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pr) & 255
    for x in range(0, stride, bpp * 4):
        colours.add(bytes(line[x:x+3]))
    prev = line
print(len(colours))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(png)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_middlebrick"))
}

/// [`run`] with the engine's exchange log (one debug line per request) on stderr.
pub fn run_logged(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("MIDDLEBRICK_CONFIG")
        .env("NO_COLOR", "1")
        .env("MIDDLEBRICK_LOG", "middlebrick_engine=debug")
        .output()
        .expect("run middlebrick")
}

/// A scan of `target` in `mode` with only `checks` (identities from `config` when given),
/// asserted to have run (exit 0 or 1); its JSON report.
pub fn scan_checks(
    target: &Target,
    mode: &str,
    checks: &str,
    config: Option<&Path>,
) -> serde_json::Value {
    scan_checks_with(target, mode, checks, config, &[])
}

/// [`scan_checks`] with more flags (`--allow-failed-sign-in`, …).
pub fn scan_checks_with(
    target: &Target,
    mode: &str,
    checks: &str,
    config: Option<&Path>,
    extra: &[&str],
) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("report.json");
    let mut args = vec![
        "scan",
        &target.url,
        "--mode",
        mode,
        "--checks",
        checks,
        "--no-progress",
        "--format",
        "json",
        "-o",
        out_path.to_str().unwrap(),
    ];
    if let Some(c) = config {
        args.extend(["--config", c.to_str().unwrap()]);
    }
    args.extend(extra);
    let out = run(&args);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(out_path).expect("report")).expect("JSON")
}

pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_remove("MIDDLEBRICK_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .expect("run middlebrick")
}

/// The identities every target seeds (see targets/README.md).
pub const IDENTITIES: &str = r#"
[[identity]]
name = "alice"
username = "alice"
password = "Alice-pass-1234"

[[identity]]
name = "bob"
username = "bob"
password = "Bob-pass-1234"
"#;

pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("middlebrick.toml");
    std::fs::write(&path, format!("{extra}\n{IDENTITIES}")).expect("write config");
    path
}

#[derive(Debug, serde::Deserialize)]
pub struct GroundTruth {
    #[serde(default, rename = "flaw")]
    pub flaws: Vec<Flaw>,
    #[serde(default, rename = "public")]
    pub public: Vec<Public>,
}

#[derive(Debug, serde::Deserialize)]
pub struct Flaw {
    pub check: String,
    pub method: String,
    pub path: String,
    pub variants: Vec<String>,
    #[serde(default)]
    pub note: String,
    /// The lowest mode in which the scanner is expected to find it (default: safe).
    #[serde(default)]
    pub mode: Option<String>,
    /// The finding's parameter when one flaw is one of several on the same location (a
    /// cookie's name for `auth.cookie-flags`).
    #[serde(default)]
    pub parameter: Option<String>,
    /// Where an API mounted inside the app lives (`/partner`): its flaws are found by scanning
    /// that URL, not the app's own.
    #[serde(default)]
    pub base: Option<String>,
    /// The GraphQL operation (`query order`, `mutation login`) when the flaw is on one: the
    /// finding's `graphql_operation`.
    #[serde(default)]
    pub graphql: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct Public {
    pub method: String,
    pub path: String,
    /// As [`Flaw::graphql`].
    #[serde(default)]
    pub graphql: Option<String>,
}

pub fn ground_truth(app: &str) -> GroundTruth {
    let dir = match app {
        "flask" => "flask_shop",
        "fastapi" => "fastapi_shop",
        "connexion" => "connexion_clinic",
        other => panic!("unknown app {other}"),
    };
    let text = std::fs::read_to_string(
        repo_root()
            .join("targets")
            .join(dir)
            .join("groundtruth.toml"),
    )
    .expect("ground truth");
    toml::from_str(&text).expect("ground truth parses")
}
