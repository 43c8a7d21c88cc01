//! Group commit: `apply` calls that arrive while a batch is being written
//! wait and go together in the next transaction, their statements pipelined
//! on one connection. Many jobs then share one commit (one WAL flush) and
//! about one round trip, as they share one SQLite transaction in
//! `SqliteStore`'s writer thread.

use std::pin::Pin;
use std::sync::Arc;

use deadpool_postgres::{Pool, Transaction};
use futures::future::{BoxFuture, FutureExt, MaybeDone, maybe_done};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::ops;
use super::target::Target;
use crate::error::{Error, Result};
use crate::job::{Applied, Update};

/// Writers taking batches in turn: while one waits for its commit, the next
/// gathers and sends the following batch.
const WRITERS: usize = 2;

/// Most updates in one transaction.
const MAX_UPDATES: usize = 4096;

struct Request {
    queue: Arc<str>,
    updates: Vec<Update>,
    reply: oneshot::Sender<Result<Vec<Applied>>>,
}

/// The sending side; the writers stop when every clone of it is dropped.
#[derive(Clone)]
pub(super) struct Committer {
    tx: mpsc::UnboundedSender<Request>,
}

impl Committer {
    /// Starts the writers on the current Tokio runtime.
    pub(super) fn start(pool: &Pool, target: &Arc<Target>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WRITERS {
            tokio::spawn(writer(pool.clone(), Arc::clone(target), Arc::clone(&rx)));
        }
        Self { tx }
    }

    /// Applies `updates` of `queue` in order, in a transaction shared with
    /// whatever else is waiting; answers once it is committed.
    pub(super) async fn apply(
        &self,
        queue: Arc<str>,
        updates: Vec<Update>,
    ) -> Result<Vec<Applied>> {
        let closed = || Error::StoreClosed { store: "postgres" };
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request {
                queue,
                updates,
                reply,
            })
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn writer(pool: Pool, target: Arc<Target>, rx: Arc<Mutex<mpsc::UnboundedReceiver<Request>>>) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut n = first.updates.len();
            let mut batch = vec![first];
            while n < MAX_UPDATES {
                match rx.try_recv() {
                    Ok(request) => {
                        n += request.updates.len();
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        match write(&pool, &target, &batch).await {
            Ok(mut answers) => {
                for request in batch.into_iter().rev() {
                    let mine = answers.split_off(answers.len() - request.updates.len());
                    let _ = request.reply.send(Ok(mine));
                }
            }
            Err(error) => {
                for request in batch {
                    let _ = request.reply.send(Err(copy(&error)));
                }
            }
        }
    }
}

/// Every update of `batch`, in order, in one transaction; the answers in
/// the same order.
///
/// Boxed with named lifetimes: inferred inside `tokio::spawn`, the borrows
/// of the pipelined statements are not proven `Send` for every lifetime.
fn write<'a>(
    pool: &'a Pool,
    target: &'a Target,
    batch: &'a [Request],
) -> BoxFuture<'a, Result<Vec<Applied>>> {
    async move { write_batch(pool, target, batch).await }.boxed()
}

async fn write_batch(pool: &Pool, target: &Target, batch: &[Request]) -> Result<Vec<Applied>> {
    let e = |err: tokio_postgres::Error| target.store_error("apply", &err);
    // Statements run in (queue, job) order, each job's updates in the order
    // they came: every transaction that locks several rows (here, and the
    // batched heartbeat) takes them in the same order, so no two wait on
    // each other in a cycle, whatever the processes and writers.
    let mut order: Vec<usize> = (0..batch.iter().map(|r| r.updates.len()).sum()).collect();
    let flat: Vec<(&str, &Update)> = batch
        .iter()
        .flat_map(|r| r.updates.iter().map(|u| (&*r.queue, u)))
        .collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| (flat[i].0, flat[i].1.lease().job.as_str());
        key(a).cmp(&key(b))
    });
    let all: Vec<(&str, &Update)> = order.iter().map(|&i| flat[i]).collect();
    let mut client = pool.get().await.map_err(|err| target.pool_error(&err))?;
    if let [(queue, update)] = all.as_slice() {
        // One statement commits on its own: no BEGIN/COMMIT round trips.
        return Ok(vec![ops::apply(&client, queue, update, target).await?]);
    }
    ops::warm(&client, &all, target).await?;
    let tx = client.transaction().await.map_err(e)?;
    let sorted = pipelined(&tx, &all, target).await?;
    tx.commit().await.map_err(e)?;
    // Back in the order the updates came.
    let mut answers = vec![Applied::Stale; sorted.len()];
    for (answer, &i) in sorted.into_iter().zip(&order) {
        answers[i] = answer;
    }
    Ok(answers)
}

type Pending<'a> = Pin<Box<MaybeDone<BoxFuture<'a, Result<Applied>>>>>;

/// Sends every statement before waiting for any answer. Each statement is
/// prepared already, so each future sends at its first poll: polling them
/// once in order sends them in order, and the server runs them in order.
async fn pipelined(
    tx: &Transaction<'_>,
    all: &[(&str, &Update)],
    target: &Target,
) -> Result<Vec<Applied>> {
    let mut pending: Vec<Pending<'_>> = all
        .iter()
        .map(|(queue, update)| Box::pin(maybe_done(ops::apply(tx, queue, update, target).boxed())))
        .collect();
    for fut in &mut pending {
        let _ = futures::poll!(fut.as_mut());
    }
    for fut in &mut pending {
        fut.as_mut().await;
    }
    pending
        .iter_mut()
        .map(|fut| {
            fut.as_mut()
                .take_output()
                .unwrap_or_else(|| Err(Error::store("apply", "an update was not run")))
        })
        .collect()
}

/// The same error for every request of a failed batch.
fn copy(error: &Error) -> Error {
    match error {
        Error::StoreConnect { target, reason } => Error::StoreConnect {
            target: target.clone(),
            reason: reason.clone(),
        },
        Error::Store { operation, reason } => Error::Store {
            operation,
            reason: reason.clone(),
        },
        Error::StoreUnavailable { operation, reason } => Error::StoreUnavailable {
            operation,
            reason: reason.clone(),
        },
        other => Error::store("apply", other),
    }
}
