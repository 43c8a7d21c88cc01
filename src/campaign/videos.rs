//! Where a run's videos are kept for every machine that needs them.
//!
//! Each worker downloads the videos of its jobs into its own run folder.
//! With `output.videos` set (`--videos s3://BUCKET/PREFIX` or
//! `file:///shared/dir`), the download step also puts each video into that
//! store under `PREFIX/RUN/videos/JOB.mp4`, so a worker that takes a job
//! over, or a `framebreak report` on any machine, reads it from there
//! instead of asking the provider again (whose links expire) or showing
//! nothing.
//!
//! S3 credentials, region and endpoint come from the usual `AWS_*`
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` for an S3-compatible server;
//! an `http://` endpoint is allowed because it was asked for), never from
//! the URL, which is stored with the run and shown in messages.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::campaign::Error;

/// The configuration key of the store, as errors name it.
pub const VIDEOS_KEY: &str = "output.videos";

/// The reason [`VideoStore::fetch_missing`] gives for a video the store
/// does not hold.
pub const NOT_IN_STORE: &str = "not in the shared store";

/// Bytes an upload buffers before it turns into a multipart upload (S3's
/// smallest part is 5 MiB); also the size of each part.
const PART_BYTES: usize = 5 << 20;
/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// Uploads and downloads in flight at once, whatever the concurrency of the
/// run: with the two limits above, a store holds at most about
/// `TRANSFERS × PART_BYTES × (PARTS_IN_FLIGHT + 1)` of video in memory.
const TRANSFERS: usize = 4;

/// The shared video store of one run: `PREFIX/RUN/…` in a folder or a
/// bucket.
pub struct VideoStore {
    store: Arc<dyn ObjectStore>,
    /// `PREFIX/RUN`: every key of the run is under it.
    root: Key,
    /// The URL as configured (it holds no credential).
    url: String,
    transfers: Semaphore,
}

impl std::fmt::Debug for VideoStore {
    // The inner store is not shown: its configuration holds credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoStore")
            .field("url", &self.url)
            .field("root", &self.root.as_ref())
            .finish_non_exhaustive()
    }
}

/// Where a store URL points.
enum Location {
    Folder(PathBuf),
    Bucket { bucket: String, prefix: Key },
}

/// Reads `url` as a video store location, naming what is wrong.
fn parse(url: &str) -> Result<Location, Error> {
    // A URL with a password in it is refused, and not shown with it.
    let shown = crate::campaign::redact_url(url);
    let bad = |reason: &str| Error::Config {
        source_name: format!("{VIDEOS_KEY} {shown:?}"),
        reason: reason.to_owned(),
    };
    let expected = "expected s3://BUCKET[/PREFIX] or file:///ABSOLUTE/FOLDER";
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("{e}; {expected}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "credentials do not go in the URL (it is stored with the run and shown): \
             set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad(&format!(
            "a query or fragment means nothing here; {expected}"
        )));
    }
    match parsed.scheme() {
        "file" => {
            if parsed.host_str().is_some_and(|h| !h.is_empty()) {
                return Err(bad(&format!("a file URL names no host; {expected}")));
            }
            let path = parsed
                .to_file_path()
                .map_err(|()| bad(&format!("not an absolute folder; {expected}")))?;
            Ok(Location::Folder(path))
        }
        "s3" => {
            let bucket = parsed
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| bad(&format!("no bucket; {expected}")))?
                .to_owned();
            let prefix = Key::parse(parsed.path().trim_matches('/'))
                .map_err(|e| bad(&format!("the prefix is not a valid key: {e}")))?;
            Ok(Location::Bucket { bucket, prefix })
        }
        other => Err(bad(&format!("unsupported scheme {other:?}; {expected}"))),
    }
}

/// Checks `url` without touching the store (for configuration checks).
///
/// # Errors
///
/// [`Error::Config`] naming `output.videos` and what is wrong.
pub(crate) fn check_url(url: &str) -> Result<(), Error> {
    parse(url).map(|_| ())
}

impl VideoStore {
    /// Run `run`'s part of the store at `url`, with S3 settings from the
    /// `AWS_*` variables.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL that is not a store, [`Error::Videos`]
    /// when the store cannot be set up (a folder that cannot be made, an
    /// S3 setting that is wrong).
    pub fn open(url: &str, run: &str) -> Result<Self, Error> {
        Self::open_with(url, run, std::iter::empty::<(&str, &str)>())
    }

    /// [`VideoStore::open`] with S3 settings given here over the `AWS_*`
    /// variables: `("aws_endpoint", "http://127.0.0.1:9000")`,
    /// `("aws_access_key_id", …)` and the other keys of
    /// [`AmazonS3ConfigKey`].
    ///
    /// # Errors
    ///
    /// As [`VideoStore::open`]; also for an unknown key.
    pub fn open_with<'a>(
        url: &str,
        run: &str,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Error> {
        let failed = |reason: String| Error::Videos {
            url: url.to_owned(),
            reason,
        };
        let run_key = Key::parse(run).map_err(|e| failed(format!("run id {run:?}: {e}")))?;
        let (store, prefix): (Arc<dyn ObjectStore>, Key) = match parse(url)? {
            Location::Folder(path) => {
                std::fs::create_dir_all(&path)
                    .map_err(|e| failed(format!("cannot make {}: {e}", path.display())))?;
                let fs =
                    LocalFileSystem::new_with_prefix(&path).map_err(|e| failed(e.to_string()))?;
                (Arc::new(fs), Key::default())
            }
            Location::Bucket { bucket, prefix } => {
                // The process's TLS provider (the client crate installs
                // the same one); an earlier one is kept.
                let _ = rustls::crypto::ring::default_provider().install_default();
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if std::env::var("AWS_ENDPOINT_URL")
                    .or_else(|_| std::env::var("AWS_ENDPOINT"))
                    .is_ok_and(|e| e.starts_with("http://"))
                {
                    builder = builder.with_allow_http(true);
                }
                for (key, value) in options {
                    let key: AmazonS3ConfigKey = key
                        .parse()
                        .map_err(|_| failed(format!("unknown S3 setting {key:?}")))?;
                    if matches!(key, AmazonS3ConfigKey::Endpoint) && value.starts_with("http://") {
                        builder = builder.with_allow_http(true);
                    }
                    builder = builder.with_config(key, value);
                }
                let s3 = builder.build().map_err(|e| failed(e.to_string()))?;
                (Arc::new(s3), prefix)
            }
        };
        let root = run_key
            .parts()
            .fold(prefix, |key, part| key.clone().join(part));
        Ok(Self {
            store,
            root,
            url: url.to_owned(),
            transfers: Semaphore::new(TRANSFERS),
        })
    }

    /// Run `run`'s video store, if `config` names one (`output.videos`).
    ///
    /// # Errors
    ///
    /// As [`VideoStore::open`].
    pub fn of_run(
        config: &crate::campaign::CampaignConfig,
        run: &str,
    ) -> Result<Option<Self>, Error> {
        config
            .output
            .videos
            .as_deref()
            .map(|url| Self::open(url, run))
            .transpose()
    }

    /// The URL it was opened with.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key of `name` (a path relative to the run folder, such as
    /// `videos/JOB.mp4`).
    fn key(&self, name: &str) -> Result<Key, Error> {
        let rel = Key::parse(name).map_err(|e| self.error(name, "naming", &e))?;
        Ok(rel
            .parts()
            .fold(self.root.clone(), |key, part| key.join(part)))
    }

    fn error(&self, name: &str, doing: &str, e: &dyn std::fmt::Display) -> Error {
        Error::Videos {
            url: self.url.clone(),
            reason: format!("{doing} {name}: {e}"),
        }
    }

    /// Writes a small marker (`RUN/run`, the run id) and reads it back: a
    /// store that cannot be written (no bucket, no rights, no server) is
    /// found before any job runs.
    ///
    /// # Errors
    ///
    /// [`Error::Videos`] saying what failed.
    pub async fn check(&self) -> Result<(), Error> {
        let name = "run";
        let key = self.key(name)?;
        let id = self.root.filename().unwrap_or_default().to_owned();
        self.store
            .put(&key, PutPayload::from(id.clone().into_bytes()))
            .await
            .map_err(|e| self.error(name, "writing", &e))?;
        let back = self
            .store
            .get(&key)
            .await
            .map_err(|e| self.error(name, "reading back", &e))?
            .bytes()
            .await
            .map_err(|e| self.error(name, "reading back", &e))?;
        if back.as_ref() == id.as_bytes() {
            Ok(())
        } else {
            Err(self.error(
                name,
                "reading back",
                &"it holds other bytes than were written",
            ))
        }
    }

    /// Puts the file at `local` into the store as `name`, a part at a time
    /// (replacing an earlier copy: the same job's video is the same bytes).
    ///
    /// # Errors
    ///
    /// [`Error::Videos`] when the file cannot be read or the store refuses.
    pub async fn put_file(&self, name: &str, local: &Path) -> Result<(), Error> {
        let key = self.key(name)?;
        let _slot = self.transfers.acquire().await;
        let mut file = tokio::fs::File::open(local)
            .await
            .map_err(|e| self.error(name, "reading the local copy of", &e))?;
        let mut writer = BufWriter::with_capacity(self.store.clone(), key, PART_BYTES)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        let copied = tokio::io::copy(&mut file, &mut writer).await;
        let closed = match copied {
            Ok(_) => writer.shutdown().await,
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        };
        closed.map_err(|e| self.error(name, "storing", &e))
    }

    /// Gets `name` from the store into `local` (written beside it and
    /// renamed, so a reader never sees part of it). `Ok(false)` when the
    /// store does not have it.
    ///
    /// # Errors
    ///
    /// [`Error::Videos`] when the store or the local folder fails.
    pub async fn get_file(&self, name: &str, local: &Path) -> Result<bool, Error> {
        let key = self.key(name)?;
        let _slot = self.transfers.acquire().await;
        let got = match self.store.get(&key).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(self.error(name, "fetching", &e)),
        };
        let dir = local.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| self.error(name, "making the folder for", &e))?;
        let partial = local.with_extension(format!("part{}", fastrand::u32(..)));
        let written = async {
            let mut out = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| self.error(name, "writing the local copy of", &e))?;
            let mut chunks = got.into_stream();
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| self.error(name, "fetching", &e))?;
                out.write_all(&chunk)
                    .await
                    .map_err(|e| self.error(name, "writing the local copy of", &e))?;
            }
            out.sync_all()
                .await
                .map_err(|e| self.error(name, "writing the local copy of", &e))?;
            tokio::fs::rename(&partial, local)
                .await
                .map_err(|e| self.error(name, "writing the local copy of", &e))
        };
        match written.await {
            Ok(()) => Ok(true),
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }

    /// Makes sure each of `names` is in `run_dir` (a report's videos): the
    /// missing ones are fetched from the store. Returns those that are
    /// still missing, each with the reason.
    pub async fn fetch_missing<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
        run_dir: &Path,
    ) -> Vec<(String, String)> {
        let mut missing = Vec::new();
        for name in names {
            let local = run_dir.join(name);
            if local.is_file() {
                continue;
            }
            match self.get_file(name, &local).await {
                Ok(true) => {}
                Ok(false) => missing.push((name.to_owned(), NOT_IN_STORE.to_owned())),
                Err(e) => missing.push((name.to_owned(), e.to_string())),
            }
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The S3 server of the tests (`scripts/s3/start`, which `scripts/test`
    /// runs); they fail, never skip, without it.
    fn endpoint() -> String {
        std::env::var("FRAMEBREAK_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
            panic!(
                "FRAMEBREAK_TEST_S3_ENDPOINT is not set: these tests need an S3-compatible \
                 server. Run scripts/test, or `eval \"$(scripts/s3/start)\"` first."
            )
        })
    }

    const SECRET: &str = "s3cr3t-never-shown";

    fn options(endpoint: &str) -> [(&str, &str); 4] {
        [
            ("aws_endpoint", endpoint),
            ("aws_access_key_id", "framebreak-test"),
            ("aws_secret_access_key", SECRET),
            ("aws_region", "us-east-1"),
        ]
    }

    fn http() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    /// A new bucket on the test server (S3's CreateBucket: PUT /NAME).
    async fn bucket(name: &str) -> String {
        let name = format!("{name}-{}-{}", std::process::id(), fastrand::u32(..));
        let url = format!("{}/{name}", endpoint());
        let made = http().put(&url).send().await.unwrap();
        assert!(made.status().is_success(), "{url}: {}", made.status());
        name
    }

    #[test]
    fn bad_urls_are_refused_by_name() {
        for (url, says) in [
            ("s3:/", "no bucket"),
            ("http://bucket/p", "unsupported scheme \"http\""),
            ("runs/videos", "expected s3://BUCKET"),
            (
                "s3://key:secret@bucket/p",
                "credentials do not go in the URL",
            ),
            ("s3://bucket/p?x=1", "a query or fragment"),
            ("file://host/shared", "names no host"),
        ] {
            let e = check_url(url).unwrap_err().to_string();
            assert!(e.contains(VIDEOS_KEY) && e.contains(says), "{url}: {e}");
            assert!(!e.contains("secret@"), "{e}");
        }
        assert!(check_url("s3://bucket").is_ok());
        assert!(check_url("s3://bucket/a/b/").is_ok());
        assert!(check_url("file:///srv/videos").is_ok());
    }

    #[tokio::test]
    async fn a_folder_store_keeps_videos_under_the_run_and_hands_them_back() {
        let shared = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(shared.path())
            .unwrap()
            .to_string();
        let store = VideoStore::open(&url, "run-1").unwrap();
        store.check().await.unwrap();
        let here = tempfile::tempdir().unwrap();
        let video = here.path().join("videos/j1.mp4");
        std::fs::create_dir_all(video.parent().unwrap()).unwrap();
        std::fs::write(&video, b"the bytes of a video").unwrap();
        store.put_file("videos/j1.mp4", &video).await.unwrap();
        assert_eq!(
            std::fs::read(shared.path().join("run-1/videos/j1.mp4")).unwrap(),
            b"the bytes of a video"
        );
        let elsewhere = tempfile::tempdir().unwrap();
        let missing = store
            .fetch_missing(["videos/j1.mp4", "videos/j2.mp4"], elsewhere.path())
            .await;
        assert_eq!(
            missing,
            [("videos/j2.mp4".to_owned(), NOT_IN_STORE.to_owned())]
        );
        assert_eq!(
            std::fs::read(elsewhere.path().join("videos/j1.mp4")).unwrap(),
            b"the bytes of a video"
        );
        // Another run of the same store does not see this run's videos.
        let other = VideoStore::open(&url, "run-2").unwrap();
        assert!(
            !other
                .get_file("videos/j1.mp4", &elsewhere.path().join("x"))
                .await
                .unwrap()
        );
        // A local copy that cannot be read is an error naming the video.
        let e = store
            .put_file("videos/j3.mp4", &here.path().join("videos/j3.mp4"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&url) && e.contains("videos/j3.mp4"), "{e}");
    }

    #[tokio::test]
    async fn an_s3_store_round_trips_small_and_multipart_videos() {
        let endpoint = endpoint();
        let bucket = bucket("fb-videos").await;
        let url = format!("s3://{bucket}/campaigns/nightly");
        let store = VideoStore::open_with(&url, "run-a", options(&endpoint)).unwrap();
        store.check().await.unwrap();
        let here = tempfile::tempdir().unwrap();
        // One video under a part, one over two parts (a multipart upload).
        let small: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let large: Vec<u8> = (0..(2 * PART_BYTES + 12_345) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        for (name, bytes) in [("videos/s.mp4", &small), ("videos/l.mp4", &large)] {
            let path = here.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            store.put_file(name, &path).await.unwrap();
        }
        let elsewhere = tempfile::tempdir().unwrap();
        let missing = store
            .fetch_missing(["videos/s.mp4", "videos/l.mp4"], elsewhere.path())
            .await;
        assert!(missing.is_empty(), "{missing:?}");
        assert_eq!(
            std::fs::read(elsewhere.path().join("videos/s.mp4")).unwrap(),
            small
        );
        assert_eq!(
            std::fs::read(elsewhere.path().join("videos/l.mp4")).unwrap(),
            large
        );
        // Under PREFIX/RUN in the bucket, as the module says.
        let listed = http()
            .get(format!(
                "{endpoint}/{bucket}?prefix=campaigns/nightly/run-a/"
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            listed.contains("campaigns/nightly/run-a/videos/l.mp4"),
            "{listed}"
        );
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_written_is_named_before_any_job_and_no_secret_shows() {
        let endpoint = endpoint();
        let url = format!("s3://no-such-bucket-{}/p", fastrand::u32(..));
        let store = VideoStore::open_with(&url, "run-b", options(&endpoint)).unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        let e = store.check().await.unwrap_err();
        assert!(matches!(e, Error::Videos { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains(&url) && e.contains("writing run"), "{e}");
        assert!(!e.contains(SECRET), "{e}");
        // An unknown setting is named, not ignored.
        let e = VideoStore::open_with(&url, "run-b", [("aws_no_such_setting", "1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("aws_no_such_setting"), "{e}");
    }
}
