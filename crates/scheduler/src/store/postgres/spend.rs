//! A run's spend ledger in the database: one row per job that holds an
//! amount, one total per queue, so every worker holds from the same total.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Pool;

use super::target::Target;
use crate::error::Result;
use crate::spend::{Hold, SpendLedger};

/// A [`SpendLedger`] backed by the store's database (see
/// [`PgStore::spend_ledger`](super::PgStore::spend_ledger)).
///
/// Each hold is one transaction that locks the queue's total row
/// (`SELECT … FOR UPDATE`), so concurrent holds from any number of workers
/// serialise on it and the total never passes the limit.
#[derive(Clone)]
pub struct PgSpendLedger {
    pub(super) pool: Pool,
    pub(super) queue: Arc<str>,
    pub(super) target: Arc<Target>,
}

impl fmt::Debug for PgSpendLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSpendLedger")
            .field("target", &self.target)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl PgSpendLedger {
    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .map_err(|err| self.target.pool_error(&err))
    }
}

/// Amounts are BIGINT: a total past it is refused, not wrapped.
fn as_db(amount: u64) -> Option<i64> {
    i64::try_from(amount).ok()
}

#[async_trait]
impl SpendLedger for PgSpendLedger {
    async fn hold(&self, job: &str, amount: u64, limit: u64) -> Result<Hold> {
        let e = |err: tokio_postgres::Error| self.target.store_error("spend_hold", &err);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(e)?;
        let queue: &str = &self.queue;
        tx.execute(
            "INSERT INTO framebreak_spend_totals (queue, committed) VALUES ($1, 0) \
             ON CONFLICT (queue) DO NOTHING",
            &[&queue],
        )
        .await
        .map_err(e)?;
        let committed: i64 = tx
            .query_one(
                "SELECT committed FROM framebreak_spend_totals WHERE queue = $1 FOR UPDATE",
                &[&queue],
            )
            .await
            .and_then(|r| r.try_get(0))
            .map_err(e)?;
        let committed = u64::try_from(committed).unwrap_or(0);
        let held = tx
            .query_opt(
                "SELECT 1 FROM framebreak_spend WHERE queue = $1 AND job = $2",
                &[&queue, &job],
            )
            .await
            .map_err(e)?
            .is_some();
        if held {
            tx.commit().await.map_err(e)?;
            return Ok(Hold::AlreadyHeld);
        }
        let total = committed
            .checked_add(amount)
            .filter(|t| *t <= limit)
            .and_then(|t| Some((t, as_db(t)?, as_db(amount)?)));
        let Some((_, total, amount)) = total else {
            tx.rollback().await.map_err(e)?;
            return Ok(Hold::Refused { committed });
        };
        tx.execute(
            "INSERT INTO framebreak_spend (queue, job, amount) VALUES ($1, $2, $3)",
            &[&queue, &job, &amount],
        )
        .await
        .map_err(e)?;
        tx.execute(
            "UPDATE framebreak_spend_totals SET committed = $2 WHERE queue = $1",
            &[&queue, &total],
        )
        .await
        .map_err(e)?;
        tx.commit().await.map_err(e)?;
        Ok(Hold::Granted)
    }

    async fn release(&self, job: &str) -> Result<()> {
        let e = |err: tokio_postgres::Error| self.target.store_error("spend_release", &err);
        let client = self.client().await?;
        let queue: &str = &self.queue;
        // One statement: the hold's row and the total change together.
        client
            .execute(
                "WITH gone AS (DELETE FROM framebreak_spend WHERE queue = $1 AND job = $2 \
                 RETURNING amount) \
                 UPDATE framebreak_spend_totals t SET committed = t.committed - gone.amount \
                 FROM gone WHERE t.queue = $1",
                &[&queue, &job],
            )
            .await
            .map_err(e)?;
        Ok(())
    }

    async fn committed(&self) -> Result<u64> {
        let e = |err: tokio_postgres::Error| self.target.store_error("spend_committed", &err);
        let client = self.client().await?;
        let queue: &str = &self.queue;
        let row = client
            .query_opt(
                "SELECT committed FROM framebreak_spend_totals WHERE queue = $1",
                &[&queue],
            )
            .await
            .map_err(e)?;
        let total: i64 = match row {
            Some(r) => r.try_get(0).map_err(e)?,
            None => 0,
        };
        Ok(u64::try_from(total).unwrap_or(0))
    }
}
