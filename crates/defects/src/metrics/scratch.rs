//! Reusable `f32` buffers for the per-pixel passes of the flow.
//!
//! One 720p flow touches about twenty full-size planes (pyramid, gradients,
//! structure tensor, residual products, box sums, the flow itself). Fresh
//! from the allocator, each multi-megabyte plane is new pages to the kernel:
//! on the VMs this runs on, the page faults and zeroing cost about a fifth
//! of the flow's CPU (measured with `perf`: `exc_page_fault`,
//! `clear_page_erms`). A stock of idle buffers, handed out again by size,
//! makes those pages fault once per process instead of once per call.
//!
//! The stock is one for the process (a buffer made on one rayon thread is
//! often dropped on another, the caller's), behind a mutex taken a few dozen
//! times per flow. It is bounded ([`KEEP_BYTES`]) and only keeps buffers of
//! at least [`MIN_KEEP`] elements; everything else goes back to the
//! allocator as usual.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};

/// Most bytes of idle buffers the process keeps.
const KEEP_BYTES: usize = 256 << 20;
/// Smaller buffers are left to the allocator, which recycles them well.
const MIN_KEEP: usize = 16 * 1024;

static IDLE: Mutex<Stock> = Mutex::new(Stock::new(KEEP_BYTES));

/// The process's stock; a panic while it was held cannot have left it
/// inconsistent (every change is one push or one remove).
fn idle() -> MutexGuard<'static, Stock> {
    IDLE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Idle buffers, at most `keep_bytes` of them.
struct Stock {
    keep_bytes: usize,
    idle: Vec<Vec<f32>>,
}

impl Stock {
    const fn new(keep_bytes: usize) -> Self {
        Self {
            keep_bytes,
            idle: Vec::new(),
        }
    }

    /// The idle buffer that serves a request for `len` best: one of exactly
    /// `len` (the same level of the next frame's pyramid, say) needs no
    /// filling; then a longer one, cut; only then a shorter one with room,
    /// whose new part must be zeroed.
    fn take(&mut self, len: usize) -> Option<Vec<f32>> {
        if len < MIN_KEEP {
            return None;
        }
        let best = self
            .idle
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| {
                let cost = match b.len().cmp(&len) {
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => 1,
                    std::cmp::Ordering::Less => 2,
                };
                (cost, b.capacity())
            })
            .map(|(i, _)| i)?;
        Some(self.idle.swap_remove(best))
    }

    /// Keeps `v` if it is big enough to be worth it and fits.
    fn give(&mut self, v: Vec<f32>) {
        if v.capacity() < MIN_KEEP {
            return;
        }
        let held: usize = self.idle.iter().map(Vec::capacity).sum();
        if (held + v.capacity()) * size_of::<f32>() <= self.keep_bytes {
            self.idle.push(v);
        }
    }
}

/// `v` (from the stock or new) at `len` elements; old contents stay.
fn sized(v: Option<Vec<f32>>, len: usize) -> Vec<f32> {
    match v {
        Some(mut v) => {
            if v.len() >= len {
                v.truncate(len);
            } else {
                v.resize(len, 0.0);
            }
            v
        }
        None => vec![0.0; len],
    }
}

/// A buffer of `len` elements whose contents are unspecified (whatever its
/// last user left, or zeros): for buffers whose every element is written
/// before it is read.
pub(crate) fn dirty(len: usize) -> Vec<f32> {
    let reused = idle().take(len);
    sized(reused, len)
}

/// A buffer of `len` zeros.
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    let mut v = dirty(len);
    v.fill(0.0);
    v
}

/// Hands `v` back for reuse (or drops it when the stock is full or `v` is
/// small).
pub(crate) fn recycle(v: Vec<f32>) {
    idle().give(v);
}

/// A scratch buffer that goes back to the stock when dropped.
pub(crate) struct Scratch(Vec<f32>);

impl Scratch {
    /// [`dirty`], returned on drop.
    pub(crate) fn dirty(len: usize) -> Self {
        Self(dirty(len))
    }
}

impl Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_at_the_asked_size() {
        let mut stock = Stock::new(KEEP_BYTES);
        let mut a = vec![7.0; MIN_KEEP * 2];
        a[0] = 7.0;
        let ptr = a.as_ptr();
        stock.give(a);
        let b = sized(stock.take(MIN_KEEP), MIN_KEEP);
        assert_eq!(b.as_ptr(), ptr, "the idle buffer is reused");
        assert_eq!(b.len(), MIN_KEEP);
        stock.give(b);
        let c = sized(stock.take(MIN_KEEP * 2), MIN_KEEP * 2);
        assert_eq!((c.as_ptr(), c.len()), (ptr, MIN_KEEP * 2));
        assert!(
            c[MIN_KEEP..].iter().all(|&x| x == 0.0),
            "the grown part is zeros"
        );
    }

    #[test]
    fn an_exact_fit_is_preferred_then_a_longer_buffer() {
        let mut stock = Stock::new(KEEP_BYTES);
        let long = vec![0.0; MIN_KEEP * 4];
        let exact = vec![0.0; MIN_KEEP * 2];
        let (long_ptr, exact_ptr) = (long.as_ptr(), exact.as_ptr());
        stock.give(long);
        stock.give(exact);
        let first = stock.take(MIN_KEEP * 2).unwrap();
        assert_eq!(first.as_ptr(), exact_ptr);
        let second = stock.take(MIN_KEEP * 2).unwrap();
        assert_eq!(second.as_ptr(), long_ptr);
        assert!(stock.take(MIN_KEEP).is_none());
    }

    #[test]
    fn the_stock_is_bounded_and_small_buffers_are_not_kept() {
        let mut stock = Stock::new(MIN_KEEP * 3 * size_of::<f32>());
        stock.give(vec![0.0; MIN_KEEP * 2]);
        stock.give(vec![0.0; MIN_KEEP * 2]);
        assert_eq!(stock.idle.len(), 1, "the second would pass the bound");
        stock.give(vec![0.0; MIN_KEEP - 1]);
        assert_eq!(stock.idle.len(), 1, "small buffers are the allocator's");
        assert!(stock.take(MIN_KEEP - 1).is_none());
    }

    #[test]
    fn zeroed_means_zeros() {
        let v = zeroed(MIN_KEEP + 3);
        assert!(v.len() == MIN_KEEP + 3 && v.iter().all(|&x| x == 0.0));
        recycle(v);
    }
}
