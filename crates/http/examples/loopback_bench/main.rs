//! Throughput of the transport on loopback: N GETs through `Transport::send` at a given
//! concurrency, no rate limit, no budget, printing requests per second. The number is only
//! meaningful next to a reference load generator on the same server, which is what
//! `bench/http-throughput.sh` does with wrk.
//!
//! ```text
//! loopback_bench [--url URL] [--requests N] [--concurrency C] [--threads T] [--warmup W]
//!                [--user-agent UA] [--client transport|hyper|raw]
//! loopback_bench --serve 127.0.0.1:0      # only the server (prints its URL)
//! ```
//! `--client hyper` and `--client raw` run the floors under the transport instead
//! (`floors.rs`): hyper's connection API alone, and tokio sockets with no HTTP library.
//! Without `--url` a server is started in-process, on its own thread. `--threads 1` (the default) runs the client
//! on a current-thread runtime, like `wrk -t1`; more threads use a multi-thread runtime.

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use middlebrick_http::{Outgoing, Transport, TransportConfig};
use middlebrick_model::{Method, ANONYMOUS};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use url::Url;

mod floors;

const BODY: &[u8] = b"{\"status\":\"ok\",\"service\":\"bench\"}";

struct Args {
    url: Option<Url>,
    serve: Option<String>,
    requests: u64,
    concurrency: usize,
    warmup: u64,
    threads: usize,
    user_agent: Option<String>,
    client: Client,
}

/// Which client sends the requests.
#[derive(Clone, Copy, PartialEq)]
enum Client {
    Transport,
    Hyper,
    Raw,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: None,
        serve: None,
        requests: 20_000,
        concurrency: 8,
        warmup: 1_000,
        threads: 1,
        user_agent: None,
        client: Client::Transport,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = Some(Url::parse(&value()?).map_err(|e| e.to_string())?),
            "--serve" => args.serve = Some(value()?),
            "--requests" => args.requests = value()?.parse().map_err(|_| "bad --requests")?,
            "--concurrency" => {
                args.concurrency = value()?.parse().map_err(|_| "bad --concurrency")?
            }
            "--warmup" => args.warmup = value()?.parse().map_err(|_| "bad --warmup")?,
            "--threads" => args.threads = value()?.parse().map_err(|_| "bad --threads")?,
            "--user-agent" => args.user_agent = Some(value()?),
            "--client" => {
                args.client = match value()?.as_str() {
                    "transport" => Client::Transport,
                    "hyper" => Client::Hyper,
                    "raw" => Client::Raw,
                    other => return Err(format!("unknown client {other}")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// A keep-alive HTTP/1.1 server answering every request with the same small JSON body.
async fn serve(listener: TcpListener) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req| async {
                let mut resp = hyper::Response::new(Full::new(Bytes::from_static(BODY)));
                resp.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                Ok::<_, Infallible>(resp)
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(sock), service)
                .await;
        });
    }
}

/// Starts the server on its own thread and runtime, so it does not share the client's.
fn background_server() -> Url {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let _ = tx.send(listener.local_addr().expect("address"));
            serve(listener).await;
        });
    });
    let addr = rx.recv().expect("the server thread started");
    Url::parse(&format!("http://{addr}/")).expect("url")
}

/// Sends `n` requests from `concurrency` tasks; returns (seconds, failures).
async fn run(transport: &Arc<Transport>, url: &Url, n: u64, concurrency: usize) -> (f64, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (t, url) = (transport.clone(), url.clone());
            let (next, failures) = (next.clone(), failures.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let out = Outgoing {
                        method: Method::Get,
                        url: url.clone(),
                        headers: Vec::new(),
                        credentials: Vec::new(),
                        body: None,
                        identity: ANONYMOUS.to_string(),
                        follow_redirects: true,
                        retry_throttled: true,
                    };
                    match t.send(out).await {
                        Ok(ex) if ex.status() == Some(200) => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    (
        start.elapsed().as_secs_f64(),
        failures.load(Ordering::Relaxed),
    )
}

/// CPU time of this process so far, all threads, in nanoseconds (Linux schedstat).
fn cpu_time_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loopback_bench: {e}");
            std::process::exit(2);
        }
    };
    // The server uses every core; the client as many threads as it is told (wrk's `-t`).
    let runtime = if args.serve.is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    runtime.expect("tokio runtime").block_on(bench(args));
}

fn user_agent(args: &Args) -> &str {
    args.user_agent
        .as_deref()
        .unwrap_or(middlebrick_http::DEFAULT_USER_AGENT)
}

/// Runs a timed round; returns its (seconds, failures) and the CPU it took in nanoseconds.
async fn measured<C>(
    round: impl std::future::Future<Output = (C, f64, u64)>,
) -> ((f64, u64), Option<u64>) {
    let before = cpu_time_ns();
    let (_, secs, failures) = round.await;
    let cpu = cpu_time_ns().zip(before).map(|(a, b)| a.saturating_sub(b));
    ((secs, failures), cpu)
}

async fn transport_rounds(args: &Args, url: &Url) -> ((f64, u64), Option<u64>) {
    let cfg = TransportConfig {
        concurrency: args.concurrency,
        rate_per_host: None,
        budget: None,
        max_duration: None,
        user_agent: user_agent(args).to_string(),
        ..TransportConfig::new(url.clone())
    };
    let transport = Arc::new(Transport::new(cfg).expect("transport"));
    run(&transport, url, args.warmup, args.concurrency).await;
    measured(async {
        let (secs, failures) = run(&transport, url, args.requests, args.concurrency).await;
        ((), secs, failures)
    })
    .await
}

async fn bench(args: Args) {
    if let Some(addr) = &args.serve {
        let listener = TcpListener::bind(&addr).await.expect("bind");
        println!(
            "listening on http://{}/",
            listener.local_addr().expect("address")
        );
        serve(listener).await;
        return;
    }
    let url = match args.url.clone() {
        Some(u) => u,
        None => background_server(),
    };
    let ((secs, failures), cpu) = match args.client {
        Client::Transport => transport_rounds(&args, &url).await,
        Client::Hyper => {
            let target = floors::Target::new(&url, user_agent(&args));
            let conns = floors::hyper_connections(&target, args.concurrency).await;
            let (conns, ..) = floors::hyper_round(conns, args.warmup).await;
            measured(floors::hyper_round(conns, args.requests)).await
        }
        Client::Raw => {
            let target = floors::Target::new(&url, user_agent(&args));
            let conns = floors::raw_connections(&target, args.concurrency).await;
            let (conns, ..) = floors::raw_round(conns, args.warmup).await;
            measured(floors::raw_round(conns, args.requests)).await
        }
    };
    let rps = args.requests as f64 / secs;
    println!(
        "{} requests, concurrency {}, {:.3} s, {} failed",
        args.requests, args.concurrency, secs, failures
    );
    if let Some(ns) = cpu {
        // CPU per request is steadier than the rate on a machine shared with other work.
        println!(
            "cpu us/request: {:.2}",
            ns as f64 / 1000.0 / args.requests as f64
        );
    }
    println!("requests/s: {rps:.0}");
    if failures > 0 {
        std::process::exit(1);
    }
}
