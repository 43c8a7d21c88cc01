//! The SQL of each store operation. Every statement is scoped to one queue.

use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;

use super::target::Target;
use crate::error::{Error, Result};
use crate::failure::Failure;
use crate::job::{
    Applied, Counts, JobId, JobRecord, JobState, Lease, LeaseRequest, LeaseToken, NewJob, Page,
    Priority, Update, ms,
};

const COLUMNS: &str = "seq, id, backend, priority, affinity, payload, state, step, step_state, \
                       intent, attempts, started_at, result, failure, fence";

/// Most jobs inserted by one statement (the arrays travel in one message).
const ENQUEUE_CHUNK: usize = 10_000;

/// Milliseconds as the `BIGINT` columns hold them (saturating).
fn millis(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) async fn enqueue(
    client: &impl GenericClient,
    queue: &str,
    jobs: &[NewJob],
    target: &Target,
) -> Result<u64> {
    let e = |err: tokio_postgres::Error| target.store_error("enqueue", &err);
    // unnest keeps the batch's order, so seq (insertion order) follows it;
    // ON CONFLICT DO NOTHING also skips an id repeated within the batch.
    let stmt = client
        .prepare_cached(
            "INSERT INTO framebreak_jobs (queue, id, backend, priority, affinity, payload) \
             SELECT $1, j.id, j.backend, j.priority, j.affinity, j.payload \
             FROM unnest($2::text[], $3::text[], $4::int2[], $5::text[], $6::text[]) \
                  WITH ORDINALITY AS j(id, backend, priority, affinity, payload, n) \
             ORDER BY j.n \
             ON CONFLICT (queue, id) DO NOTHING",
        )
        .await
        .map_err(e)?;
    let mut added = 0;
    for chunk in jobs.chunks(ENQUEUE_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|j| j.id.as_str()).collect();
        let backends: Vec<&str> = chunk.iter().map(|j| j.backend.as_str()).collect();
        let priorities: Vec<i16> = chunk.iter().map(|j| j.priority as i16).collect();
        let affinities: Vec<Option<&str>> = chunk.iter().map(|j| j.affinity.as_deref()).collect();
        let payloads: Vec<String> = chunk.iter().map(|j| j.payload.to_string()).collect();
        added += client
            .execute(
                &stmt,
                &[&queue, &ids, &backends, &priorities, &affinities, &payloads],
            )
            .await
            .map_err(e)?;
    }
    Ok(added)
}

pub(super) async fn lease(
    client: &impl GenericClient,
    queue: &str,
    request: &LeaseRequest,
    target: &Target,
) -> Result<Vec<Lease>> {
    let e = |err: tokio_postgres::Error| target.store_error("lease", &err);
    // Expired leases first, then due pending jobs by priority and age; rows
    // another worker is leasing right now are skipped, not waited for.
    let stmt = client
        .prepare_cached(&format!(
            "WITH expired AS ( \
                 SELECT seq, priority FROM framebreak_jobs \
                 WHERE queue = $1 AND state = 1 AND lease_expires <= $2 \
                       AND backend <> ALL($4::text[]) \
                 ORDER BY lease_expires LIMIT $3 FOR UPDATE SKIP LOCKED \
             ), due AS ( \
                 SELECT seq, priority FROM framebreak_jobs \
                 WHERE queue = $1 AND state = 0 AND not_before <= $2 \
                       AND backend <> ALL($4::text[]) \
                 ORDER BY priority DESC, seq LIMIT $3 FOR UPDATE SKIP LOCKED \
             ), picked AS ( \
                 SELECT seq FROM ( \
                     SELECT seq, priority, 0 AS k FROM expired \
                     UNION ALL SELECT seq, priority, 1 AS k FROM due \
                 ) AS u ORDER BY k, priority DESC, seq LIMIT $3 \
             ) \
             UPDATE framebreak_jobs AS j SET state = 1, fence = j.fence + 1, lease_expires = $5 \
             FROM picked WHERE j.seq = picked.seq \
             RETURNING {}",
            COLUMNS
                .split(", ")
                .map(|c| format!("j.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .await
        .map_err(e)?;
    let expires_at_ms = request.now_ms.saturating_add(ms(request.ttl));
    let max = i64::try_from(request.max).unwrap_or(i64::MAX);
    let rows = client
        .query(
            &stmt,
            &[
                &queue,
                &millis(request.now_ms),
                &max,
                &request.exclude_backends,
                &millis(expires_at_ms),
            ],
        )
        .await
        .map_err(e)?;
    let mut leases = rows
        .iter()
        .map(|row| {
            let (record, fence) = record(row)?;
            Ok(Lease {
                token: LeaseToken {
                    job: record.job.id.clone(),
                    fence,
                },
                record,
                expires_at_ms,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // RETURNING has no order: hand the batch out as picked.
    leases.sort_by_key(|l| (std::cmp::Reverse(l.record.job.priority), l.record.seq));
    Ok(leases)
}

/// The statement an update runs (one per kind of update).
fn apply_sql(update: &Update) -> String {
    const FENCE: &str = "WHERE queue = $1 AND id = $2 AND fence = $3 AND state = 1";
    let set = match update {
        Update::Heartbeat { .. } => "lease_expires = $4",
        Update::Begin { .. } => "intent = TRUE, started_at = COALESCE(started_at, $4)",
        Update::Advance { .. } => "step = $4, step_state = $5, intent = FALSE",
        Update::Complete { .. } => "state = 2, result = $4, intent = FALSE",
        Update::Retry { .. } => {
            "state = 0, attempts = attempts + $6, failure = $4, not_before = $5, \
             intent = CASE WHEN $7 THEN FALSE ELSE intent END"
        }
        Update::Fail { .. } => "state = $4, attempts = attempts + 1, failure = $5",
        Update::Wait { .. } => "state = 0, step_state = $4, not_before = $5, intent = FALSE",
        Update::Release { .. } => "state = 0",
        Update::Unbegin { .. } => "state = 0, intent = FALSE",
    };
    format!("UPDATE framebreak_jobs SET {set} {FENCE}")
}

/// Prepares (once per connection) the statements `updates` will run, so
/// that running them afterwards sends each at its first poll, in order.
pub(super) async fn warm(
    client: &impl GenericClient,
    updates: &[(&str, &Update)],
    target: &Target,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (_, update) in updates {
        if seen.insert(std::mem::discriminant(*update)) {
            client
                .prepare_cached(&apply_sql(update))
                .await
                .map_err(|err| target.store_error("apply", &err))?;
        }
    }
    Ok(())
}

pub(super) async fn apply(
    client: &impl GenericClient,
    queue: &str,
    update: &Update,
    target: &Target,
) -> Result<Applied> {
    let e = |err: tokio_postgres::Error| target.store_error("apply", &err);
    let stmt = client.prepare_cached(&apply_sql(update)).await.map_err(e)?;
    let lease = update.lease();
    let (id, fence) = (lease.job.as_str(), millis(lease.fence));
    let failure_json = |f: &Failure| serde_json::to_string(f).unwrap_or_default();
    let changed = match update {
        Update::Heartbeat { until_ms, .. } => {
            client
                .execute(&stmt, &[&queue, &id, &fence, &millis(*until_ms)])
                .await
        }
        Update::Begin { now_ms, .. } => {
            client
                .execute(&stmt, &[&queue, &id, &fence, &millis(*now_ms)])
                .await
        }
        Update::Advance { step, state, .. } => {
            client
                .execute(
                    &stmt,
                    &[&queue, &id, &fence, &i64::from(*step), &state.to_string()],
                )
                .await
        }
        Update::Complete { result, .. } => {
            client
                .execute(&stmt, &[&queue, &id, &fence, &result.to_string()])
                .await
        }
        Update::Retry {
            failure,
            not_before_ms,
            ..
        } => {
            client
                .execute(
                    &stmt,
                    &[
                        &queue,
                        &id,
                        &fence,
                        &failure_json(failure),
                        &millis(*not_before_ms),
                        &i64::from(failure.counts_as_attempt()),
                        &failure.no_effect,
                    ],
                )
                .await
        }
        Update::Fail { failure, .. } => {
            let state = Update::terminal_state_of(failure) as i16;
            client
                .execute(
                    &stmt,
                    &[&queue, &id, &fence, &state, &failure_json(failure)],
                )
                .await
        }
        Update::Wait {
            state,
            not_before_ms,
            ..
        } => {
            client
                .execute(
                    &stmt,
                    &[
                        &queue,
                        &id,
                        &fence,
                        &state.to_string(),
                        &millis(*not_before_ms),
                    ],
                )
                .await
        }
        Update::Release { .. } | Update::Unbegin { .. } => {
            client.execute(&stmt, &[&queue, &id, &fence]).await
        }
    }
    .map_err(e)?;
    Ok(if changed == 1 {
        Applied::Ok
    } else {
        Applied::Stale
    })
}

/// Many heartbeats in one statement (the scheduler renews every lease it
/// holds at once: one round trip instead of one per job).
pub(super) async fn heartbeats(
    client: &impl GenericClient,
    queue: &str,
    beats: &[(&str, u64, u64)],
    target: &Target,
) -> Result<Vec<Applied>> {
    let e = |err: tokio_postgres::Error| target.store_error("apply", &err);
    let stmt = client
        .prepare_cached(
            // Rows are locked in id order, as the group commit locks
            // them, so that two lockers never wait on each other in a
            // cycle (a deadlock PostgreSQL would break by failing one).
            "WITH t AS (SELECT * FROM unnest($2::text[], $3::int8[], $4::int8[]) AS t(id, fence, until)), \
             locked AS (SELECT j.seq, t.until FROM framebreak_jobs AS j JOIN t ON j.id = t.id \
                        WHERE j.queue = $1 AND j.fence = t.fence AND j.state = 1 \
                        ORDER BY j.id FOR UPDATE OF j) \
             UPDATE framebreak_jobs AS j SET lease_expires = locked.until \
             FROM locked WHERE j.seq = locked.seq \
             RETURNING j.id, j.fence",
        )
        .await
        .map_err(e)?;
    let ids: Vec<&str> = beats.iter().map(|b| b.0).collect();
    let fences: Vec<i64> = beats.iter().map(|b| millis(b.1)).collect();
    let until: Vec<i64> = beats.iter().map(|b| millis(b.2)).collect();
    let renewed = client
        .query(&stmt, &[&queue, &ids, &fences, &until])
        .await
        .map_err(e)?
        .iter()
        .map(|row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?)))
        .collect::<Result<std::collections::HashSet<_>, tokio_postgres::Error>>()
        .map_err(e)?;
    Ok(beats
        .iter()
        .map(|(id, fence, _)| {
            if renewed.contains(&((*id).to_owned(), millis(*fence))) {
                Applied::Ok
            } else {
                Applied::Stale
            }
        })
        .collect())
}

pub(super) async fn counts(
    client: &impl GenericClient,
    queue: &str,
    target: &Target,
) -> Result<Counts> {
    let e = |err: tokio_postgres::Error| target.store_error("counts", &err);
    let stmt = client
        .prepare_cached(
            // One branch per partial index, so counting reads this queue's
            // index entries only (idle workers count every 250 ms).
            "SELECT 0::int2, COUNT(*) FROM framebreak_jobs WHERE queue = $1 AND state = 0 \
             UNION ALL \
             SELECT 1::int2, COUNT(*) FROM framebreak_jobs WHERE queue = $1 AND state = 1 \
             UNION ALL \
             SELECT state, COUNT(*) FROM framebreak_jobs WHERE queue = $1 AND state >= 2 \
             GROUP BY state",
        )
        .await
        .map_err(e)?;
    let mut counts = Counts::default();
    for row in client.query(&stmt, &[&queue]).await.map_err(e)? {
        let (state, n): (i16, i64) = (row.try_get(0).map_err(e)?, row.try_get(1).map_err(e)?);
        add(&mut counts, state, n)?;
    }
    Ok(counts)
}

/// Adds `n` jobs in state code `state`.
pub(super) fn add(counts: &mut Counts, state: i16, n: i64) -> Result<()> {
    let state = JobState::from_code(i64::from(state)).ok_or_else(|| Error::Corrupt {
        job: "?".into(),
        reason: format!("unknown state code {state}"),
    })?;
    counts.add(state, u64::try_from(n).unwrap_or(0));
    Ok(())
}

pub(super) async fn finished(
    client: &impl GenericClient,
    queue: &str,
    after: Option<u64>,
    limit: usize,
    target: &Target,
) -> Result<Page> {
    let e = |err: tokio_postgres::Error| target.store_error("finished", &err);
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM framebreak_jobs \
             WHERE queue = $1 AND state >= 2 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .await
        .map_err(e)?;
    let limit = limit.max(1);
    let rows = client
        .query(
            &stmt,
            &[
                &queue,
                &millis(after.unwrap_or(0)),
                &(i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1),
            ],
        )
        .await
        .map_err(e)?;
    let records = rows
        .iter()
        .map(|row| record(row).map(|(r, _)| r))
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(records, limit))
}

/// Reads a row selected with [`COLUMNS`] into a record and its fence.
fn record(row: &Row) -> Result<(JobRecord, u64)> {
    let id: String = row.try_get(1).map_err(|e| Error::Corrupt {
        job: "?".into(),
        reason: format!("id: {e}"),
    })?;
    let corrupt = |reason: String| Error::Corrupt {
        job: id.clone(),
        reason,
    };
    macro_rules! get {
        ($i:expr, $name:literal) => {
            row.try_get($i)
                .map_err(|e| corrupt(format!("{}: {e}", $name)))?
        };
    }
    let json = |text: Option<String>, what: &str| -> Result<Option<Value>> {
        text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt(format!("{what}: {e}"))))
            .transpose()
    };
    let seq: i64 = get!(0, "seq");
    let priority: i16 = get!(3, "priority");
    let state: i16 = get!(6, "state");
    let step: i64 = get!(7, "step");
    let attempts: i64 = get!(10, "attempts");
    let started_at: Option<i64> = get!(11, "started_at");
    let failure: Option<String> = get!(13, "failure");
    let fence: i64 = get!(14, "fence");
    let record = JobRecord {
        seq: u64::try_from(seq).map_err(|e| corrupt(format!("seq: {e}")))?,
        job: NewJob {
            id: JobId::new(id.clone())?,
            backend: get!(2, "backend"),
            priority: Priority::from_level(i64::from(priority))
                .ok_or_else(|| corrupt(format!("unknown priority {priority}")))?,
            affinity: get!(4, "affinity"),
            payload: json(Some(get!(5, "payload")), "payload")?.unwrap_or(Value::Null),
        },
        state: JobState::from_code(i64::from(state))
            .ok_or_else(|| corrupt(format!("unknown state {state}")))?,
        step: u32::try_from(step).map_err(|e| corrupt(format!("step: {e}")))?,
        step_state: json(Some(get!(8, "step_state")), "step_state")?.unwrap_or(Value::Null),
        intent: get!(9, "intent"),
        attempts: u32::try_from(attempts).map_err(|e| corrupt(format!("attempts: {e}")))?,
        started_at_ms: started_at.map(|v| u64::try_from(v).unwrap_or(0)),
        result: json(get!(12, "result"), "result")?,
        failure: failure
            .map(|t| {
                serde_json::from_str::<Failure>(&t).map_err(|e| corrupt(format!("failure: {e}")))
            })
            .transpose()?,
    };
    let fence = u64::try_from(fence).map_err(|e| corrupt(format!("fence: {e}")))?;
    Ok((record, fence))
}
