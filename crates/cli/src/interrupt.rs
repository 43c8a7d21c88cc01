//! Stop requests from the terminal or the system: Ctrl-C (SIGINT) and, on
//! Unix, SIGTERM, which is what `kill`, systemd and Kubernetes send first.
//!
//! The handlers are registered when [`Interrupts::install`] returns, not when
//! a task first waits on them: a `tokio::signal::ctrl_c()` future registers
//! on its first poll, and on a busy machine a signal that came before that
//! poll took the default action and killed the process without the graceful
//! stop (a CI run saw exactly that). A signal that arrives before anyone
//! waits is kept and reported by the next [`Interrupts::recv`].

use std::io;

/// Registered stop signals.
#[derive(Debug)]
pub(crate) struct Interrupts {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Interrupts {
    /// Registers the handlers now. Must run inside the tokio runtime.
    pub(crate) fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(windows)]
        {
            Ok(Self {
                ctrl_c: tokio::signal::windows::ctrl_c()?,
            })
        }
    }

    /// Waits for the next stop signal; `false` when none can come any more.
    pub(crate) async fn recv(&mut self) -> bool {
        #[cfg(unix)]
        {
            tokio::select! {
                got = self.int.recv() => got.is_some(),
                got = self.term.recv() => got.is_some(),
            }
        }
        #[cfg(windows)]
        {
            self.ctrl_c.recv().await.is_some()
        }
    }
}
