//! A fixed-capacity ring buffer: the newest `capacity` items, nothing more.

use std::collections::VecDeque;

use crate::{Error, Result};

/// Keeps the newest `capacity` items. Pushing is O(1) and never allocates
/// after construction: when full, the oldest item is dropped in place
/// (a `VecDeque` with its capacity reserved up front, so it never grows or
/// shifts its elements).
///
/// ```
/// use framebreak_telemetry::RingBuffer;
///
/// let mut ring = RingBuffer::new(3)?;
/// for i in 0..5 {
///     ring.push(i);
/// }
/// assert_eq!(ring.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
/// # Ok::<(), framebreak_telemetry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RingBuffer<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> RingBuffer<T> {
    /// An empty buffer holding at most `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Result<RingBuffer<T>> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        Ok(RingBuffer {
            items: VecDeque::with_capacity(capacity),
            capacity,
        })
    }

    /// Adds `item` as the newest; returns the oldest if it had to go.
    pub fn push(&mut self, item: T) -> Option<T> {
        let evicted = if self.items.len() == self.capacity {
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(item);
        evicted
    }

    /// Items from oldest to newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    /// The newest item.
    pub fn newest(&self) -> Option<&T> {
        self.items.back()
    }

    /// How many items are held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The most items it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Drops every item, keeping the allocation.
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_capacity_is_a_typed_error() {
        assert!(matches!(RingBuffer::<u8>::new(0), Err(Error::ZeroCapacity)));
    }

    #[test]
    fn never_reallocates_once_made() {
        let mut ring = RingBuffer::new(100).unwrap();
        let reserved = ring.items.capacity();
        for i in 0..10_000 {
            ring.push(i);
        }
        assert_eq!(ring.items.capacity(), reserved);
    }

    proptest! {
        #[test]
        fn keeps_the_newest_and_never_exceeds_capacity(
            capacity in 1usize..64,
            items in prop::collection::vec(any::<u32>(), 0..300),
        ) {
            let mut ring = RingBuffer::new(capacity).unwrap();
            for (i, &item) in items.iter().enumerate() {
                let evicted = ring.push(item);
                prop_assert!(ring.len() <= capacity);
                prop_assert_eq!(evicted.is_some(), i >= capacity);
            }
            let start = items.len().saturating_sub(capacity);
            prop_assert!(ring.iter().eq(items[start..].iter()));
            prop_assert_eq!(ring.newest(), items.last());
        }
    }
}
