//! The conformance suite every [`Publisher`] must pass: each post gets an id
//! of its own and comes back with its text, a post X would refuse is
//! refused before anything is sent, and a video that cannot be read is an
//! error naming the file, never a text-only post.
//!
//! Each check panics with a message naming the broken rule:
//!
//! ```
//! use framebreak_client::{DryRunPublisher, conformance};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let publisher = DryRunPublisher::new(dir.path().join("posts.jsonl"));
//! conformance::publisher::run_all(&publisher).await;
//! # });
//! ```
#![allow(clippy::missing_panics_doc)]

use crate::{Error, MAX_POST_LEN, Post, Publisher};

/// Two posts: each published with a non-empty id of its own and its text.
pub async fn each_post_gets_its_own_id(publisher: &dyn Publisher) {
    let texts = [
        "veo-3 melted a teapot (physics 12/100)",
        "a ball fell upward in 7 of 10 clips",
    ];
    let mut ids = Vec::new();
    for text in texts {
        let published = publisher
            .publish(&Post::new(text))
            .await
            .unwrap_or_else(|e| panic!("a text post of {} characters failed: {e}", text.len()));
        assert!(
            !published.id.trim().is_empty(),
            "a post published with no id"
        );
        assert_eq!(published.text, text, "the text as published");
        ids.push(published.id);
    }
    assert_ne!(ids[0], ids[1], "two posts share the id {}", ids[0]);
}

/// A post over [`MAX_POST_LEN`] is refused with [`Error::PostTooLong`].
pub async fn a_post_too_long_is_refused(publisher: &dyn Publisher) {
    let text = "x".repeat(MAX_POST_LEN + 1);
    match publisher.publish(&Post::new(text)).await {
        Err(Error::PostTooLong { length, limit }) => {
            assert_eq!((length, limit), (MAX_POST_LEN + 1, MAX_POST_LEN));
        }
        other => panic!("a post of {} characters: {other:?}", MAX_POST_LEN + 1),
    }
}

/// A post whose video cannot be read fails, naming the file, instead of
/// going out without it.
pub async fn a_missing_video_is_an_error_naming_it(publisher: &dyn Publisher) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = std::env::temp_dir().join(format!(
        "framebreak-conformance-missing-{}-{nanos}.mp4",
        std::process::id()
    ));
    match publisher
        .publish(&Post::new("the worst clip of the run").with_video(&path))
        .await
    {
        Err(e) => {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            assert!(
                e.to_string().contains(name.as_ref()),
                "the error does not name the file: {e}"
            );
        }
        Ok(published) => panic!(
            "published {published:?} without its video {}",
            path.display()
        ),
    }
}

/// Runs every check on `publisher`.
pub async fn run_all(publisher: &dyn Publisher) {
    each_post_gets_its_own_id(publisher).await;
    a_post_too_long_is_refused(publisher).await;
    a_missing_video_is_an_error_naming_it(publisher).await;
}
