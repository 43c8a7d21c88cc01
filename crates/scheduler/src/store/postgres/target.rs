//! The connection string: where it points, said in messages, and its
//! password, kept out of every message, `Debug` output and log line.

use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;

use tokio_postgres::config::Host;

use crate::error::{Error, Result};

/// Where a store connects, as shown to people: `user@host:port/database`.
#[derive(Clone)]
pub(super) struct Target {
    shown: String,
    /// The password as written and as decoded: scrubbed from every message.
    secrets: Vec<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Passwords shorter than this are not scrubbed from messages: replacing
/// every `a` of a message would garble it and hide nothing.
const MIN_SCRUBBED: usize = 4;

impl Target {
    /// Parses `url` (a `postgres://` URL or `key=value` pairs).
    pub(super) fn parse(url: &str) -> Result<(tokio_postgres::Config, Self)> {
        let mut secrets = written_password(url).into_iter().collect::<Vec<_>>();
        let config = tokio_postgres::Config::from_str(url).map_err(|e| {
            let scrub = Self {
                shown: String::new(),
                secrets: secrets.clone(),
            };
            Error::InvalidStoreUrl {
                reason: scrub.redact(&describe(&e)),
            }
        })?;
        if config.get_hosts().is_empty() {
            return Err(Error::InvalidStoreUrl {
                reason: "it names no host (e.g. postgres://user@127.0.0.1:5432/db)".into(),
            });
        }
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        secrets.retain(|s| s.len() >= MIN_SCRUBBED);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let ports = config.get_ports();
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                match host {
                    Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(path) => format!("{}:{port}", path.display()),
                }
            })
            .collect();
        let user = config.get_user().unwrap_or("(default user)");
        let db = config.get_dbname().unwrap_or(user);
        let mut target = Self {
            shown: format!("{user}@{}/{db}", hosts.join(",")),
            secrets,
        };
        target.shown = target.redact(&target.shown);
        Ok((config, target))
    }

    /// `message` with the password replaced by `***`.
    pub(super) fn redact(&self, message: &str) -> String {
        self.secrets
            .iter()
            .fold(message.to_owned(), |m, secret| m.replace(secret, "***"))
    }

    /// A failure to reach the server or to log in.
    pub(super) fn connect_error(&self, err: &(dyn StdError + 'static)) -> Error {
        Error::StoreConnect {
            target: self.shown.clone(),
            reason: self.redact(&describe(err)),
        }
    }

    /// A failed statement: [`Error::StoreUnavailable`] when the server
    /// could not be reached or dropped the connection, [`Error::Store`]
    /// otherwise.
    pub(super) fn store_error(
        &self,
        operation: &'static str,
        err: &(dyn StdError + 'static),
    ) -> Error {
        let reason = self.redact(&describe(err));
        if unreachable(err) {
            Error::StoreUnavailable { operation, reason }
        } else {
            Error::Store { operation, reason }
        }
    }

    /// No connection to be had now (the server is down or restarting).
    fn unavailable(&self, err: &deadpool_postgres::PoolError) -> Error {
        Error::StoreUnavailable {
            operation: "connect",
            reason: format!("{}: {}", self.shown, self.redact(&describe(err))),
        }
    }

    /// A pool failure during an operation: the server could not be reached
    /// in time ([`Error::StoreUnavailable`]) or refused the login
    /// ([`Error::StoreConnect`]).
    pub(super) fn pool_error(&self, err: &deadpool_postgres::PoolError) -> Error {
        use deadpool_postgres::PoolError;
        match err {
            PoolError::Timeout(_) => self.unavailable(err),
            PoolError::Backend(e) if unreachable(e) => self.unavailable(err),
            PoolError::Backend(e) => self.connect_error(e),
            other => Error::StoreConnect {
                target: self.shown.clone(),
                reason: self.redact(&describe(other)),
            },
        }
    }
}

/// Whether `err` says the server is unreachable for now rather than that
/// the request is wrong: the connection is closed or broke (an I/O error
/// anywhere in its causes), the server is shutting down or starting up
/// (SQLSTATE class 08, 57P01–57P03), it has no connection slot free
/// (53300), or the transaction lost a race it may win next time (40001,
/// 40P01). A refused login (class 28) or a missing database (3D000) is not.
pub(super) fn unreachable(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<std::io::Error>() {
            return true;
        }
        if let Some(pg) = e.downcast_ref::<tokio_postgres::Error>() {
            if pg.is_closed() {
                return true;
            }
            if let Some(code) = pg.code() {
                let code = code.code();
                return code.starts_with("08")
                    || matches!(
                        code,
                        "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                    );
            }
        }
        next = e.source();
    }
    false
}

/// The error and its causes on one line (`tokio_postgres` puts the useful
/// part, such as "Connection refused" or the server's message, in a cause).
pub(super) fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

/// The password of a `scheme://user:password@host` URL as written (before
/// percent-decoding), or of a `password=` pair.
fn written_password(url: &str) -> Option<String> {
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let userinfo = rest.rsplit_once('@')?.0;
        return userinfo.split_once(':').map(|(_, p)| p.to_owned());
    }
    url.split_whitespace()
        .find_map(|pair| pair.strip_prefix("password="))
        .map(|p| p.trim_matches('\'').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_where_without_the_password() {
        let (_, target) =
            Target::parse("postgres://fb:hunter2%21x@db.example:6543/campaigns").unwrap();
        assert_eq!(target.to_string(), "fb@db.example:6543/campaigns");
        assert_eq!(format!("{target:?}"), "fb@db.example:6543/campaigns");
        assert_eq!(
            target.redact("login hunter2!x and hunter2%21x failed"),
            "login *** and *** failed"
        );
        let (_, pairs) =
            Target::parse("host=127.0.0.1 port=5433 user=u password=longsecret dbname=d").unwrap();
        assert_eq!(pairs.to_string(), "u@127.0.0.1:5433/d");
        assert_eq!(pairs.redact("was longsecret"), "was ***");
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for url in [
            "postgres://u:topsecret@host:notaport/db",
            "postgres://u:topsecret@/db",
            "nonsense=topsecret",
        ] {
            let err = Target::parse(url).unwrap_err();
            assert!(
                matches!(err, Error::InvalidStoreUrl { .. }),
                "{url}: {err:?}"
            );
            assert!(!err.to_string().contains("topsecret"), "{err}");
        }
    }
}
