//! Token buckets in the database, one row per (queue, key), so every worker
//! of a campaign draws from the same bucket.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use tokio_postgres::types::Type;

use super::target::Target;
use crate::error::Result;
use crate::rate::RateLimit;
use crate::shared_limit::SharedRateLimiter;

/// A [`SharedRateLimiter`] backed by the store's database (see
/// [`PgStore::rate_limiter`](super::PgStore::rate_limiter)).
///
/// Each `try_acquire` is one statement: it refills the key's bucket by the
/// time elapsed on the *server's* clock (`clock_timestamp()`), so workers'
/// clocks need not agree, and takes a token if there is one; concurrent
/// callers serialise on the bucket's row.
#[derive(Clone)]
pub struct PgRateLimiter {
    pool: Pool,
    queue: Arc<str>,
    target: Arc<Target>,
}

impl fmt::Debug for PgRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRateLimiter")
            .field("target", &self.target)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// `$1` queue, `$2` key, `$3` tokens per second, `$4` burst. A new bucket
/// starts full (less the token this call takes). `excluded.updated_at` is
/// this call's one reading of the clock; a call that read the clock before
/// a concurrent one committed sees no negative elapsed time.
const TAKE: &str = "
INSERT INTO framebreak_rate_buckets AS b (queue, key, tokens, granted, updated_at)
VALUES ($1, $2, $4 - 1, TRUE, clock_timestamp())
ON CONFLICT (queue, key) DO UPDATE SET
    tokens = LEAST($4, b.tokens + $3 * GREATEST(0, EXTRACT(EPOCH FROM excluded.updated_at - b.updated_at)::float8))
        - CASE WHEN LEAST($4, b.tokens + $3 * GREATEST(0, EXTRACT(EPOCH FROM excluded.updated_at - b.updated_at)::float8)) >= 1
               THEN 1 ELSE 0 END,
    granted = LEAST($4, b.tokens + $3 * GREATEST(0, EXTRACT(EPOCH FROM excluded.updated_at - b.updated_at)::float8)) >= 1,
    updated_at = GREATEST(b.updated_at, excluded.updated_at)
RETURNING granted, tokens";

/// Shortest wait answered: below it, asking again costs more than it saves.
const MIN_WAIT: Duration = Duration::from_millis(1);

impl PgRateLimiter {
    pub(super) fn new(pool: Pool, queue: Arc<str>, target: Arc<Target>) -> Self {
        Self {
            pool,
            queue,
            target,
        }
    }
}

#[async_trait]
impl SharedRateLimiter for PgRateLimiter {
    async fn try_acquire(&self, key: &str, limit: &RateLimit) -> Result<Duration> {
        let e = |err: tokio_postgres::Error| self.target.store_error("rate_limit", &err);
        let client = self
            .pool
            .get()
            .await
            .map_err(|err| self.target.pool_error(&err))?;
        // Typed: left to infer, `$4 - 1` would make the burst an integer.
        let stmt = client
            .prepare_typed_cached(TAKE, &[Type::TEXT, Type::TEXT, Type::FLOAT8, Type::FLOAT8])
            .await
            .map_err(e)?;
        let rate = limit.per_second_rate();
        let burst = f64::from(limit.burst_size());
        let row = client
            .query_one(&stmt, &[&&*self.queue, &key, &rate, &burst])
            .await
            .map_err(e)?;
        let granted: bool = row.try_get(0).map_err(e)?;
        if granted {
            return Ok(Duration::ZERO);
        }
        let tokens: f64 = row.try_get(1).map_err(e)?;
        let wait = Duration::try_from_secs_f64((1.0 - tokens).max(0.0) / rate).unwrap_or(MIN_WAIT);
        Ok(wait.max(MIN_WAIT))
    }
}
