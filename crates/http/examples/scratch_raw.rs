use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(amain());
}
async fn amain() {
    let url: String = std::env::args().nth(1).unwrap();
    let mode: String = std::env::args().nth(2).unwrap_or("a".into());
    let n = 50000u64;
    let client = reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let ws: Vec<_> = (0..8).map(|_| { let c = client.clone(); let u = url.clone(); let next = next.clone(); let mode = mode.clone(); let token = token.clone(); let sem = sem.clone(); tokio::spawn(async move {
        let u = reqwest::Url::parse(&u).unwrap();
        while next.fetch_add(1, Ordering::Relaxed) < n {
            let work = async {
                let _p = if mode.contains('s') { Some(sem.acquire().await.unwrap()) } else { None };
                let mut r = c.get(u.clone()).send().await.unwrap();
                while let Some(_c) = r.chunk().await.unwrap() {}
            };
            if mode.contains('t') && mode.contains('c') {
                tokio::select! { biased; _ = token.cancelled() => {}, _ = tokio::time::timeout(Duration::from_secs(15), work) => {} }
            } else if mode.contains('t') {
                let _ = tokio::time::timeout(Duration::from_secs(15), work).await;
            } else if mode.contains('c') {
                tokio::select! { biased; _ = token.cancelled() => {}, _ = work => {} }
            } else { work.await }
        }
    })}).collect();
    for w in ws {
        w.await.unwrap();
    }
    let s = start.elapsed().as_secs_f64();
    println!("{mode}: {:.0} rps", n as f64 / s);
}
