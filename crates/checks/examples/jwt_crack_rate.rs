//! How fast `auth.jwt-weak-secret` searches keys offline: the whole candidate set (dictionary
//! and every decimal key of up to six digits) against one HS256 token whose key is none of
//! them, so every candidate is tried. Run through `bench/jwt-crack.sh`.

use middlebrick_checks::jwt::{encode, Jwt};
use middlebrick_checks::jwt_crack::{crack, dictionary, numeric_count, Target};
use serde_json::json;
use std::time::Instant;

fn main() {
    let header = json!({"alg": "HS256", "typ": "JWT"});
    // Claims of the size a real API issues (subject, name, role, times, a jti).
    let claims = json!({"sub": "1", "username": "alice", "role": "customer", "iat": 1_700_000_000,
        "exp": 1_700_003_600, "jti": "3q2-7wJbQk6yWZ0vX1c9Tg"});
    let token = encode(
        header.as_object().unwrap(),
        claims.as_object().unwrap(),
        Some(b"not-in-any-list: 7f3c9a1e5b2d4680"),
    );
    let target = Target::new(&Jwt::parse(&token).unwrap()).unwrap();
    let words = dictionary().len() as u64;
    let total = words + numeric_count();
    let start = Instant::now();
    let found = crack(&target, &[]);
    let secs = start.elapsed().as_secs_f64();
    assert!(found.is_none(), "the benchmark key must not be guessable");
    println!(
        "candidates: {total} ({words} words and spellings, {} decimal keys)",
        numeric_count()
    );
    println!(
        "signing input: {} bytes",
        token.rsplit_once('.').unwrap().0.len()
    );
    println!("time: {secs:.2} s");
    println!("rate: {:.0} keys/s", total as f64 / secs);
}
