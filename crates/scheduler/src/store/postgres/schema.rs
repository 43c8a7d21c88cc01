//! Versioned schema migrations, run when asked for ([`migrate`]), and the
//! check a store that may not change the schema makes instead ([`check`]).
//!
//! Each migration runs once per database, in order, and is recorded in
//! `framebreak_schema_migrations`. Processes that migrate at the same moment
//! serialise on a transaction-scoped advisory lock, so exactly one of them
//! migrates and the others find the work done.

use deadpool_postgres::Object;

use super::target::Target;
use crate::error::{Error, Result};

/// Key of the advisory lock that serialises migrations ("fbmigrat").
const LOCK_KEY: i64 = 0x6662_6d69_6772_6174;

/// The table recording which migrations ran.
pub(super) const MIGRATIONS_TABLE: &str = "framebreak_schema_migrations";

/// `(version, name, SQL)`, in order. Never edit a released one: add another.
pub(super) const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "jobs",
        "CREATE TABLE framebreak_jobs (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            queue TEXT NOT NULL,
            id TEXT NOT NULL,
            backend TEXT NOT NULL,
            priority SMALLINT NOT NULL,
            affinity TEXT,
            payload TEXT NOT NULL,
            state SMALLINT NOT NULL DEFAULT 0,
            step BIGINT NOT NULL DEFAULT 0,
            step_state TEXT NOT NULL DEFAULT 'null',
            intent BOOLEAN NOT NULL DEFAULT FALSE,
            attempts BIGINT NOT NULL DEFAULT 0,
            started_at BIGINT,
            result TEXT,
            failure TEXT,
            fence BIGINT NOT NULL DEFAULT 0,
            lease_expires BIGINT NOT NULL DEFAULT 0,
            not_before BIGINT NOT NULL DEFAULT 0,
            UNIQUE (queue, id)
        );
        CREATE INDEX framebreak_jobs_pending ON framebreak_jobs (queue, priority DESC, seq)
            WHERE state = 0;
        CREATE INDEX framebreak_jobs_leased ON framebreak_jobs (queue, lease_expires)
            WHERE state = 1;
        CREATE INDEX framebreak_jobs_finished ON framebreak_jobs (queue, seq) INCLUDE (state)
            WHERE state >= 2;
        -- No (queue, state) index: before the first ANALYZE of a freshly
        -- filled queue the planner took it for leasing and sorted the whole
        -- queue on every lease (15 ms instead of 1 ms for 64 of 50,000).
        -- Counts read the three partial indexes instead.
        -- Every lease and outcome leaves a dead row version behind: vacuum
        -- the queue table often so lease scans do not wade through them.
        ALTER TABLE framebreak_jobs SET (
            autovacuum_vacuum_scale_factor = 0.01,
            autovacuum_analyze_scale_factor = 0.02
        );",
    ),
    (
        2,
        "shared rate limits",
        "CREATE TABLE framebreak_rate_buckets (
            queue TEXT NOT NULL,
            key TEXT NOT NULL,
            tokens DOUBLE PRECISION NOT NULL,
            granted BOOLEAN NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (queue, key)
        );",
    ),
    (
        3,
        "queue metadata",
        "CREATE TABLE framebreak_queue_meta (
            queue TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (queue, key)
        );",
    ),
    (
        4,
        "spend ledger",
        "CREATE TABLE framebreak_spend (
            queue TEXT NOT NULL,
            job TEXT NOT NULL,
            amount BIGINT NOT NULL,
            PRIMARY KEY (queue, job)
        );
        CREATE TABLE framebreak_spend_totals (
            queue TEXT PRIMARY KEY,
            committed BIGINT NOT NULL
        );",
    ),
];

/// The newest migration this build knows.
pub(super) fn newest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Checks, without changing anything, that the database's schema is the
/// one this build works with; returns its version.
pub(super) async fn check(client: &Object, target: &Target) -> Result<i32> {
    let e = |err: tokio_postgres::Error| target.store_error("check schema", &err);
    // to_regclass: NULL when the table does not exist, no error to catch.
    let exists: bool = client
        .query_one(
            &format!("SELECT to_regclass('{MIGRATIONS_TABLE}') IS NOT NULL"),
            &[],
        )
        .await
        .map_err(e)?
        .try_get(0)
        .map_err(e)?;
    let found: i32 = if exists {
        client
            .query_one(
                &format!("SELECT COALESCE(max(version), 0) FROM {MIGRATIONS_TABLE}"),
                &[],
            )
            .await
            .map_err(e)?
            .try_get(0)
            .map_err(e)?
    } else {
        0
    };
    let expected = newest();
    if found == expected {
        Ok(found)
    } else {
        Err(Error::StoreSchema {
            target: target.to_string(),
            found,
            expected,
        })
    }
}

/// Brings the database's schema up to the newest version this build knows;
/// returns the versions it applied.
pub(super) async fn migrate(client: &mut Object, target: &Target) -> Result<Vec<i32>> {
    let e = |err: tokio_postgres::Error| target.store_error("migrate", &err);
    let tx = client.transaction().await.map_err(e)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(e)?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )"
    ))
    .await
    .map_err(e)?;
    let applied: Vec<i32> = tx
        .query(&format!("SELECT version FROM {MIGRATIONS_TABLE}"), &[])
        .await
        .map_err(e)?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(e)?;
    let known = newest();
    if let Some(newer) = applied.iter().copied().filter(|v| *v > known).max() {
        return Err(Error::StoreSchema {
            target: target.to_string(),
            found: newer,
            expected: known,
        });
    }
    let mut done = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await.map_err(|err| Error::Store {
            operation: "migrate",
            reason: format!(
                "migration {version} ({name}): {}",
                target.redact(&super::target::describe(&err))
            ),
        })?;
        tx.execute(
            &format!("INSERT INTO {MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)"),
            &[version, name],
        )
        .await
        .map_err(e)?;
        tracing::info!(version, name, "applied a job store migration");
        done.push(*version);
    }
    tx.commit().await.map_err(e)?;
    Ok(done)
}
