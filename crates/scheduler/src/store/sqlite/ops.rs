//! The SQL of each store operation, run inside the writer's transaction.

use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::failure::Failure;
use crate::job::{
    Applied, Counts, JobId, JobRecord, JobState, Lease, LeaseRequest, LeaseToken, NewJob, Page,
    Priority, Update, ms,
};

use super::{Answer, Op, op_name};

const COLUMNS: &str = "seq, id, backend, priority, affinity, payload, state, step, step_state, \
                       intent, attempts, started_at, result, failure, fence";

pub(super) fn run(tx: &Transaction<'_>, op: &Op) -> Result<Answer> {
    let name = op_name(op);
    let e = |err: rusqlite::Error| Error::store(name, err);
    match op {
        Op::Enqueue(jobs) => {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO jobs (id, backend, priority, affinity, payload) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(e)?;
            let mut added = 0;
            for job in jobs {
                added += stmt
                    .execute(params![
                        job.id.as_str(),
                        job.backend,
                        job.priority as i64,
                        job.affinity,
                        job.payload.to_string()
                    ])
                    .map_err(e)? as u64;
            }
            Ok(Answer::Added(added))
        }
        Op::Requeue(ids) => {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE jobs SET state = 0, attempts = 0, failure = NULL, intent = 0, \
                     not_before = 0 WHERE id = ?1 AND state IN (3, 4)",
                )
                .map_err(e)?;
            let mut changed = 0;
            for id in ids {
                changed += stmt.execute(params![id.as_str()]).map_err(e)? as u64;
            }
            Ok(Answer::Added(changed))
        }
        Op::ReleaseLeases => tx
            .execute(
                "UPDATE jobs SET state = 0, lease_expires = 0 WHERE state = 1",
                [],
            )
            .map(|n| Answer::Added(n as u64))
            .map_err(e),
        Op::Meta(key) => tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map(Answer::Meta)
            .map_err(e),
        Op::PutMeta(key, value) => tx
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| Answer::Meta(None))
            .map_err(e),
        Op::Hold(job, amount, limit) => hold(tx, job, *amount, *limit).map(Answer::Held).map_err(e),
        Op::ReleaseHold(job) => {
            let amount: Option<i64> = tx
                .query_row(
                    "DELETE FROM spend WHERE job = ?1 RETURNING amount",
                    [job],
                    |r| r.get(0),
                )
                .optional()
                .map_err(e)?;
            if let Some(amount) = amount {
                tx.execute(
                    "UPDATE spend_total SET committed = committed - ?1 WHERE one = 1",
                    [amount],
                )
                .map_err(e)?;
            }
            Ok(Answer::Added(u64::from(amount.is_some())))
        }
        Op::Committed => committed(tx).map(Answer::Added).map_err(e),
        Op::Lease(request) => lease(tx, request).map(Answer::Leases),
        Op::Apply(updates) => updates
            .iter()
            .map(|u| apply(tx, u))
            .collect::<Result<Vec<_>>>()
            .map(Answer::Applied),
        Op::Counts => {
            // Kept by triggers on every insert, state change and delete: a
            // count read while a campaign runs costs the same at 100 jobs
            // and at 1,000,000 (counting the jobs themselves scanned and
            // sorted the whole table, memory and time growing with it).
            let mut stmt = tx
                .prepare_cached("SELECT state, n FROM job_counts WHERE n != 0")
                .map_err(e)?;
            let mut counts = Counts::default();
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .map_err(e)?;
            for row in rows {
                let (state, n) = row.map_err(e)?;
                let state = JobState::from_code(state).ok_or_else(|| Error::Corrupt {
                    job: "?".into(),
                    reason: format!("unknown state code {state}"),
                })?;
                counts.add(state, u64::try_from(n).unwrap_or(0));
            }
            Ok(Answer::Counts(counts))
        }
        Op::Finished(after, limit) => {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM jobs WHERE state >= 2 AND seq > ?1 ORDER BY seq LIMIT ?2"
                ))
                .map_err(e)?;
            let limit = (*limit).max(1);
            let records = stmt
                .query_map(params![after.unwrap_or(0) as i64, limit as i64 + 1], |r| {
                    Ok(record(r))
                })
                .map_err(e)?
                .map(|r| r.map_err(e).and_then(|r| r.map(|(rec, _)| rec)))
                .collect::<Result<Vec<_>>>()?;
            Ok(Answer::Page(Page::from_overfetch(records, limit)))
        }
    }
}

fn lease(tx: &Transaction<'_>, request: &LeaseRequest) -> Result<Vec<Lease>> {
    let e = |err: rusqlite::Error| Error::store("lease", err);
    let exclude = if request.exclude_backends.is_empty() {
        String::new()
    } else {
        let marks: Vec<String> = (0..request.exclude_backends.len())
            .map(|i| format!("?{}", i + 3))
            .collect();
        let marks = marks.join(", ");
        format!(" AND backend NOT IN ({marks})")
    };
    let mut bind: Vec<rusqlite::types::Value> =
        vec![(request.now_ms as i64).into(), (request.max as i64).into()];
    bind.extend(request.exclude_backends.iter().map(|b| b.clone().into()));
    let mut picked: Vec<i64> = Vec::new();
    for sql in [
        format!("SELECT seq FROM jobs WHERE state = 1 AND lease_expires <= ?1{exclude} LIMIT ?2"),
        format!(
            "SELECT seq FROM jobs WHERE state = 0 AND not_before <= ?1{exclude} \
             ORDER BY priority DESC, seq LIMIT ?2"
        ),
    ] {
        if picked.len() >= request.max {
            break;
        }
        bind[1] = ((request.max - picked.len()) as i64).into();
        let mut stmt = tx.prepare_cached(&sql).map_err(e)?;
        let seqs = stmt
            .query_map(rusqlite::params_from_iter(bind.iter()), |r| {
                r.get::<_, i64>(0)
            })
            .map_err(e)?;
        for seq in seqs {
            picked.push(seq.map_err(e)?);
        }
    }
    let expires_at_ms = request.now_ms.saturating_add(ms(request.ttl));
    let mut stmt = tx
        .prepare_cached(&format!(
            "UPDATE jobs SET state = 1, fence = fence + 1, lease_expires = ?2 WHERE seq = ?1 \
             RETURNING {COLUMNS}"
        ))
        .map_err(e)?;
    let mut leases = Vec::with_capacity(picked.len());
    for seq in picked {
        let (record, fence) = stmt
            .query_row(params![seq, expires_at_ms as i64], |r| Ok(record(r)))
            .optional()
            .map_err(e)?
            .ok_or_else(|| Error::store("lease", format!("row {seq} vanished")))??;
        leases.push(Lease {
            token: LeaseToken {
                job: record.job.id.clone(),
                fence,
            },
            record,
            expires_at_ms,
        });
    }
    Ok(leases)
}

fn apply(tx: &Transaction<'_>, update: &Update) -> Result<Applied> {
    let e = |err: rusqlite::Error| Error::store("apply", err);
    let failure_json = |f: &Failure| serde_json::to_string(f).unwrap_or_default();
    const FENCE: &str = "WHERE id = ?1 AND fence = ?2 AND state = 1";
    let lease = update.lease();
    let (id, fence) = (lease.job.as_str(), lease.fence as i64);
    let changed = match update {
        Update::Heartbeat { until_ms, .. } => tx
            .prepare_cached(&format!("UPDATE jobs SET lease_expires = ?3 {FENCE}"))
            .and_then(|mut s| s.execute(params![id, fence, *until_ms as i64])),
        Update::Begin { now_ms, .. } => tx
            .prepare_cached(&format!(
                "UPDATE jobs SET intent = 1, started_at = COALESCE(started_at, ?3) {FENCE}"
            ))
            .and_then(|mut s| s.execute(params![id, fence, *now_ms as i64])),
        Update::Advance { step, state, .. } => tx
            .prepare_cached(&format!(
                "UPDATE jobs SET step = ?3, step_state = ?4, intent = 0 {FENCE}"
            ))
            .and_then(|mut s| s.execute(params![id, fence, step, state.to_string()])),
        Update::Complete { result, .. } => tx
            .prepare_cached(&format!(
                "UPDATE jobs SET state = 2, result = ?3, intent = 0 {FENCE}"
            ))
            .and_then(|mut s| s.execute(params![id, fence, result.to_string()])),
        Update::Retry {
            failure,
            not_before_ms,
            ..
        } => tx
            .prepare_cached(&format!(
                "UPDATE jobs SET state = 0, attempts = attempts + ?5, failure = ?3, \
                 not_before = ?4, intent = CASE WHEN ?6 THEN 0 ELSE intent END {FENCE}"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    fence,
                    failure_json(failure),
                    *not_before_ms as i64,
                    i64::from(failure.counts_as_attempt()),
                    failure.no_effect,
                ])
            }),
        Update::Fail { failure, .. } => tx
            .prepare_cached(&format!(
                "UPDATE jobs SET state = ?3, attempts = attempts + 1, failure = ?4 {FENCE}"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    fence,
                    Update::terminal_state_of(failure) as i64,
                    failure_json(failure)
                ])
            }),
        Update::Wait {
            state,
            not_before_ms,
            ..
        } => tx
            .prepare_cached(&format!(
                "UPDATE jobs SET state = 0, step_state = ?3, not_before = ?4, intent = 0 {FENCE}"
            ))
            .and_then(|mut s| {
                s.execute(params![id, fence, state.to_string(), *not_before_ms as i64])
            }),
        Update::Release { .. } => tx
            .prepare_cached(&format!("UPDATE jobs SET state = 0 {FENCE}"))
            .and_then(|mut s| s.execute(params![id, fence])),
        Update::Unbegin { .. } => tx
            .prepare_cached(&format!("UPDATE jobs SET state = 0, intent = 0 {FENCE}"))
            .and_then(|mut s| s.execute(params![id, fence])),
    }
    .map_err(e)?;
    Ok(if changed == 1 {
        Applied::Ok
    } else {
        Applied::Stale
    })
}

/// Reads a row selected with [`COLUMNS`] into a record and its fence.
fn record(r: &Row<'_>) -> Result<(JobRecord, u64)> {
    let id: String = r.get(1).map_err(|e| Error::store("read", e))?;
    let corrupt = |reason: String| Error::Corrupt {
        job: id.clone(),
        reason,
    };
    let get = |i: usize| -> Result<rusqlite::types::Value> {
        r.get(i).map_err(|e| corrupt(e.to_string()))
    };
    let text = |i: usize| -> Result<Option<String>> {
        match get(i)? {
            rusqlite::types::Value::Null => Ok(None),
            rusqlite::types::Value::Text(t) => Ok(Some(t)),
            other => Err(corrupt(format!("column {i} holds {other:?}, not text"))),
        }
    };
    let int = |i: usize| -> Result<Option<i64>> {
        match get(i)? {
            rusqlite::types::Value::Null => Ok(None),
            rusqlite::types::Value::Integer(n) => Ok(Some(n)),
            other => Err(corrupt(format!(
                "column {i} holds {other:?}, not an integer"
            ))),
        }
    };
    let json = |i: usize| -> Result<Option<Value>> {
        text(i)?
            .map(|t| serde_json::from_str(&t).map_err(|e| corrupt(format!("column {i}: {e}"))))
            .transpose()
    };
    let need = |v: Option<i64>, what: &str| v.ok_or_else(|| corrupt(format!("{what} is null")));
    let priority = need(int(3)?, "priority")?;
    let state = need(int(6)?, "state")?;
    let failure = text(13)?
        .map(|t| serde_json::from_str::<Failure>(&t).map_err(|e| corrupt(format!("failure: {e}"))))
        .transpose()?;
    let record = JobRecord {
        seq: need(int(0)?, "seq")? as u64,
        job: NewJob {
            id: JobId::new(id.clone())?,
            backend: text(2)?.ok_or_else(|| corrupt("backend is null".into()))?,
            priority: Priority::from_level(priority)
                .ok_or_else(|| corrupt(format!("unknown priority {priority}")))?,
            affinity: text(4)?,
            payload: json(5)?.unwrap_or(Value::Null),
        },
        state: JobState::from_code(state)
            .ok_or_else(|| corrupt(format!("unknown state {state}")))?,
        step: u32::try_from(need(int(7)?, "step")?).map_err(|e| corrupt(format!("step: {e}")))?,
        step_state: json(8)?.unwrap_or(Value::Null),
        intent: need(int(9)?, "intent")? != 0,
        attempts: u32::try_from(need(int(10)?, "attempts")?)
            .map_err(|e| corrupt(format!("attempts: {e}")))?,
        started_at_ms: int(11)?.map(|v| v as u64),
        result: json(12)?,
        failure,
    };
    Ok((record, need(int(14)?, "fence")? as u64))
}

/// The committed total of the ledger.
fn committed(tx: &Transaction<'_>) -> rusqlite::Result<u64> {
    let total: Option<i64> = tx
        .query_row("SELECT committed FROM spend_total WHERE one = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(total.map_or(0, |t| u64::try_from(t).unwrap_or(0)))
}

/// Holds `amount` for `job` within `limit` (see `SpendLedger::hold`).
fn hold(
    tx: &Transaction<'_>,
    job: &str,
    amount: u64,
    limit: u64,
) -> rusqlite::Result<crate::spend::Hold> {
    use crate::spend::Hold;
    let held: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM spend WHERE job = ?1)",
        [job],
        |r| r.get(0),
    )?;
    if held {
        return Ok(Hold::AlreadyHeld);
    }
    let committed = committed(tx)?;
    // SQLite integers are i64: amounts past it are refused, not wrapped.
    let fits = committed
        .checked_add(amount)
        .filter(|total| *total <= limit && i64::try_from(*total).is_ok());
    let Some(total) = fits else {
        return Ok(Hold::Refused { committed });
    };
    tx.execute(
        "INSERT INTO spend (job, amount) VALUES (?1, ?2)",
        params![job, amount as i64],
    )?;
    tx.execute(
        "INSERT INTO spend_total (one, committed) VALUES (1, ?1) \
         ON CONFLICT (one) DO UPDATE SET committed = excluded.committed",
        [total as i64],
    )?;
    Ok(Hold::Granted)
}
