//! Exit codes: 0 done, 1 failure, 2 usage error (also a run whose store is
//! missing, empty or another run's) (3 and 130: see `run`).

use std::fmt;
use std::io;
use std::process::ExitCode;

use framebreak::variants::Error as VariantsError;

/// Exit code for a failure (bad input file, I/O error).
pub(crate) const FAILURE: u8 = 1;
/// Exit code for a command line that cannot be run as written.
pub(crate) const USAGE: u8 = 2;

/// Marks an error as the command line's fault (exit code 2).
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Prints the error as one line, `error: cause: cause…`, and picks the code.
pub(crate) fn report(e: &anyhow::Error) -> ExitCode {
    // `framebreak variants | head`: the reader left, which is not a failure.
    if e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {e:#}");
    let usage = e.chain().any(|c| {
        c.is::<Usage>()
            || matches!(
                c.downcast_ref::<VariantsError>(),
                Some(
                    VariantsError::UnknownTrap { .. }
                        | VariantsError::NoTrapMatches { .. }
                        | VariantsError::InvalidConfig { .. }
                )
            )
            || matches!(
                c.downcast_ref::<framebreak::campaign::Error>(),
                Some(
                    framebreak::campaign::Error::Config { .. }
                        | framebreak::campaign::Error::RunNotFound { .. }
                        | framebreak::campaign::Error::StoreLost { .. }
                )
            )
    });
    ExitCode::from(if usage { USAGE } else { FAILURE })
}
