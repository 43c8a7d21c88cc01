//! The default publisher: one JSON object per post, appended to a file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use super::{Post, Published, Publisher};
use crate::{Error, Result};

/// Writes posts as JSON Lines to a file instead of publishing them.
#[derive(Debug)]
pub struct DryRunPublisher {
    path: PathBuf,
    count: AtomicU64,
    lock: tokio::sync::Mutex<()>,
}

impl DryRunPublisher {
    /// Appends to `path`, creating it when needed.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            count: AtomicU64::new(0),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The file posts go to.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl Publisher for DryRunPublisher {
    async fn publish(&self, post: &Post) -> Result<Published> {
        post.check_len()?;
        // The post a real publisher would make: its video must be there.
        if let Some(video) = &post.video {
            tokio::fs::File::open(video)
                .await
                .map_err(|e| Error::io(video, &e))?;
        }
        let mut line = serde_json::to_vec(post).map_err(|e| Error::Io {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        // One write per line under a lock, so concurrent posts never
        // interleave within a line.
        let _guard = self.lock.lock().await;
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| Error::io(&self.path, &e))?;
        file.write_all(&line)
            .await
            .map_err(|e| Error::io(&self.path, &e))?;
        file.flush().await.map_err(|e| Error::io(&self.path, &e))?;
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(path = %self.path.display(), "dry-run post written");
        Ok(Published {
            id: format!("dry-run-{n}"),
            text: post.text.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn posts_become_json_lines_and_long_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let publisher = DryRunPublisher::new(dir.path().join("posts.jsonl"));
        publisher.publish(&Post::new("first")).await.unwrap();
        let video = dir.path().join("a.mp4");
        std::fs::write(&video, b"a video").unwrap();
        publisher
            .publish(&Post::new("second").with_video(&video))
            .await
            .unwrap();
        // A video that is not there is not posted about.
        let gone = publisher
            .publish(&Post::new("third").with_video(dir.path().join("gone.mp4")))
            .await
            .unwrap_err();
        assert!(gone.to_string().contains("gone.mp4"), "{gone}");
        let err = publisher
            .publish(&Post::new("x".repeat(281)))
            .await
            .unwrap_err();
        assert_eq!(err.category(), crate::FailureCategory::BadRequest);
        let text = std::fs::read_to_string(publisher.path()).unwrap();
        let posts: Vec<Post> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            posts,
            [Post::new("first"), Post::new("second").with_video(&video)]
        );
    }
}
