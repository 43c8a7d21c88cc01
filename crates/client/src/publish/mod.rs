//! Posting results: the `Publisher` trait, a dry run to a file, and X.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

mod dry_run;
mod text;
mod x;

pub use dry_run::DryRunPublisher;
pub use text::{MAX_POST_LEN, URL_LEN, weighted_len};
pub use x::XPublisher;

/// One post: text, and optionally a video to attach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// The text, at most [`MAX_POST_LEN`] as X counts it.
    pub text: String,
    /// An MP4 to attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<PathBuf>,
}

impl Post {
    /// A text-only post.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            video: None,
        }
    }

    /// Attaches a video file.
    #[must_use]
    pub fn with_video(mut self, path: impl Into<PathBuf>) -> Self {
        self.video = Some(path.into());
        self
    }

    /// Fails with [`Error::PostTooLong`] when X would refuse the text.
    ///
    /// # Errors
    ///
    /// The text is over [`MAX_POST_LEN`].
    pub fn check_len(&self) -> Result<()> {
        let length = weighted_len(&self.text);
        if length > MAX_POST_LEN {
            return Err(Error::PostTooLong {
                length,
                limit: MAX_POST_LEN,
            });
        }
        Ok(())
    }
}

/// What a publisher made of a post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The post's id (X's, or the dry run's line number).
    pub id: String,
    /// The text as published.
    pub text: String,
}

/// Somewhere to publish findings.
///
/// The default is [`DryRunPublisher`], which writes posts to a file, so
/// nothing leaves the machine unless a user asks for [`XPublisher`].
///
/// # Example
///
/// ```
/// use framebreak_client::{DryRunPublisher, Post, Publisher};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> framebreak_client::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let publisher = DryRunPublisher::new(dir.path().join("posts.jsonl"));
/// let published = publisher.publish(&Post::new("veo-3 melted a teapot: https://example.com/r/1")).await?;
/// assert_eq!(published.id, "dry-run-1");
/// # Ok(()) }
/// ```
#[async_trait]
#[auto_impl::auto_impl(&, Box, Arc)]
pub trait Publisher: Send + Sync {
    /// Publishes one post.
    ///
    /// # Errors
    ///
    /// [`Error::PostTooLong`], or the failure to write or send it.
    async fn publish(&self, post: &Post) -> Result<Published>;
}

// Fails to compile if `Publisher` stops being object-safe.
const _: fn(Box<dyn Publisher>) = |_| {};
