//! Streamed downloads: chunk by chunk into any writer, never whole in
//! memory; to a file atomically, with a SHA-256 of what was written.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::http::{Http, strip_query};
use crate::{Asset, DownloadProgress, Error, Result, VideoBackend};

/// Called after every chunk of a download.
pub type ProgressFn<'a> = &'a (dyn Fn(DownloadProgress) + Send + Sync);

/// A progress callback that ignores progress.
pub fn no_progress(_: DownloadProgress) {}

impl Http {
    /// Sends `request` and streams the body into `sink`, checking the size
    /// cap before and during the transfer and the announced length after.
    pub(crate) async fn download(
        &self,
        request: reqwest::RequestBuilder,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
        progress: ProgressFn<'_>,
    ) -> Result<u64> {
        let mut response = self.send_streaming(request).await?;
        let url = strip_query(response.url());
        let cap = self.config.max_download_bytes;
        let total = response.content_length();
        let fail = |reason: String| Error::Download {
            url: url.clone(),
            reason,
        };
        if let Some(total) = total.filter(|&t| t > cap) {
            return Err(fail(format!(
                "Content-Length {total} bytes is over the cap of {cap} bytes"
            )));
        }
        let mut received = 0u64;
        loop {
            let next = tokio::time::timeout(self.config.timeout, response.chunk()).await;
            let chunk = match next {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => break,
                Err(_) => {
                    return Err(fail(format!(
                        "no data for {:?} after {received} bytes",
                        self.config.timeout
                    )));
                }
                Ok(Err(e)) => {
                    return Err(fail(format!(
                        "body broke off after {received}{} bytes: {}",
                        total.map(|t| format!(" of {t}")).unwrap_or_default(),
                        crate::http::error_chain(&e)
                    )));
                }
            };
            received += chunk.len() as u64;
            if received > cap {
                return Err(fail(format!("body is over the cap of {cap} bytes")));
            }
            sink.write_all(&chunk)
                .await
                .map_err(|e| fail(format!("writing failed after {received} bytes: {e}")))?;
            progress(DownloadProgress { received, total });
        }
        if let Some(total) = total.filter(|&t| t != received) {
            return Err(fail(format!(
                "body ended after {received} of {total} announced bytes"
            )));
        }
        sink.flush()
            .await
            .map_err(|e| fail(format!("flushing failed: {e}")))?;
        tracing::debug!(provider = self.provider, %url, bytes = received, "downloaded");
        Ok(received)
    }
}

/// What [`VideoBackendExt::download_to_file`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    /// The final path.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: u64,
    /// SHA-256 of the bytes written, lowercase hex.
    pub sha256: String,
}

/// Helpers every [`VideoBackend`] gets for free.
#[async_trait::async_trait]
pub trait VideoBackendExt: VideoBackend {
    /// Downloads `asset` to `path` atomically: into a temporary file in the
    /// same directory, then renamed over `path` once every byte arrived
    /// and was synced. A failed or oversized download leaves nothing
    /// behind and never a short file at `path`.
    ///
    /// `max_bytes` caps the file on top of the backend's own cap, so that
    /// it holds for any implementation.
    ///
    /// # Errors
    ///
    /// [`Error::Download`] for a broken, truncated or oversized body,
    /// [`Error::Io`] when the file cannot be written, or the backend's
    /// error for the request itself.
    async fn download_to_file(
        &self,
        asset: &Asset,
        path: &Path,
        max_bytes: u64,
        progress: ProgressFn<'_>,
    ) -> Result<Downloaded> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".framebreak-download-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, &e))?;
        let file = temp.reopen().map_err(|e| Error::io(temp.path(), &e))?;
        let mut writer = HashingWriter {
            inner: tokio::fs::File::from_std(file),
            hasher: Sha256::new(),
            written: 0,
            cap: max_bytes,
        };
        let bytes = self.download(asset, &mut writer, progress).await?;
        writer
            .inner
            .sync_all()
            .await
            .map_err(|e| Error::io(temp.path(), &e))?;
        let sha256 = hex::encode(writer.hasher.finalize());
        temp.persist(path).map_err(|e| Error::io(path, &e.error))?;
        Ok(Downloaded {
            path: path.to_owned(),
            bytes,
            sha256,
        })
    }
}

impl<B: VideoBackend + ?Sized> VideoBackendExt for B {}

/// Hashes and counts what passes through, and refuses to pass the cap.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
    cap: u64,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashingWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.written + buf.len() as u64 > self.cap {
            let cap = self.cap;
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the file would pass the cap of {cap} bytes"
            ))));
        }
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.hasher.update(&buf[..n]);
            this.written += n as u64;
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
