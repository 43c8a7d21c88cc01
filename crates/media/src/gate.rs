//! One admission gate for CPU-heavy frame work in a process.
//!
//! Encoding and decoding hold a clip's frames and the H.264 coder's
//! buffers (openh264 allocates about 8 MB per encoder and 6 MB per decoder
//! whatever the frame size). Work that does either takes a permit from
//! [`cpu_gate`] first, so that at most one such task per core holds those
//! buffers at once, whatever mixes them: the simulator's renders and the
//! campaign's analyses share the same permits. A process's memory is then
//! bounded by its cores, not by the jobs in flight, and its peak does not
//! depend on how often renders and analyses happen to coincide.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

/// How many CPU-heavy frame tasks may run at once in this process: the
/// cores (1 where they cannot be counted).
#[must_use]
pub fn cpu_slots() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The process-wide gate of [`cpu_slots`] permits. Take a permit (for
/// example `Arc::clone(cpu_gate()).acquire_owned().await`) before a render,
/// a decode or an analysis on the CPU, and hold it until the frames and the
/// coder are dropped. Never wait on another gated task while holding one.
#[must_use]
pub fn cpu_gate() -> &'static Arc<Semaphore> {
    static GATE: OnceLock<Arc<Semaphore>> = OnceLock::new();
    GATE.get_or_init(|| Arc::new(Semaphore::new(cpu_slots())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_has_one_permit_per_core_and_is_shared() {
        assert_eq!(cpu_gate().available_permits(), cpu_slots());
        assert!(Arc::ptr_eq(cpu_gate(), cpu_gate()));
        let held = cpu_gate().try_acquire().expect("a free permit");
        assert_eq!(cpu_gate().available_permits(), cpu_slots() - 1);
        drop(held);
        assert_eq!(cpu_gate().available_permits(), cpu_slots());
    }
}
