//! The PostgreSQL store and rate limiter against a real server.
//!
//! They need `FRAMEBREAK_TEST_DATABASE_URL` and fail (never skip) without it:
//! `scripts/test` starts a throwaway server and sets it, or run
//! `eval "$(scripts/pg/start)"` before `cargo nextest run -p
//! framebreak-scheduler --features postgres` (and `scripts/pg/stop
//! "$FRAMEBREAK_PG_DIR"` after). Each test works in queues (or a database)
//! of its own, so they run in parallel against one server.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

mod store;
mod workers;

/// The test server's connection string.
pub(crate) fn database_url() -> String {
    std::env::var("FRAMEBREAK_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "FRAMEBREAK_TEST_DATABASE_URL is not set: the PostgreSQL tests need a server. \
             Run scripts/test, or `eval \"$(scripts/pg/start)\"` and then this command \
             (`scripts/pg/stop \"$FRAMEBREAK_PG_DIR\"` afterwards)."
        )
    })
}

/// A queue name no other test (or earlier run) uses.
pub(crate) fn fresh_queue(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{test}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A direct connection for setting up what the store itself would refuse.
pub(crate) async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client
}

#[test]
fn without_a_server_the_tests_fail_and_say_how_to_start_one() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "postgres::store::pg_store_conforms",
            "--test-threads=1",
        ])
        .env_remove("FRAMEBREAK_TEST_DATABASE_URL")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "it must fail, not skip: {text}");
    assert!(
        text.contains("1 failed")
            && text.contains("scripts/pg/start")
            && text.contains("scripts/test"),
        "{text}"
    );
}
