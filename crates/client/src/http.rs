//! The HTTP plumbing every adapter shares: one pooled client, per-request
//! timeouts, and the mapping of transport errors and error responses onto
//! [`Error`].

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::{Error, FailureCategory, Result, Secret};

/// Videos take minutes to generate, and a status call or the start of a
/// download can sit behind a slow gateway; a short default would turn slow
/// providers into timeouts.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A video bigger than this is almost certainly not what we asked for.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 4 << 30;

/// How a backend talks HTTP: the shared client, the timeout for each
/// request, and the download size cap.
///
/// Clone it freely: every clone shares one connection pool.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub(crate) client: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_download_bytes: u64,
}

impl HttpConfig {
    /// The process-wide client (rustls with the `ring` provider, HTTP/2,
    /// pooled connections), the default timeout and cap.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the TLS stack cannot start.
    pub fn new() -> Result<Self> {
        Ok(Self {
            client: shared_client()?,
            timeout: DEFAULT_TIMEOUT,
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
        })
    }

    /// Uses `client` instead of the shared one (a proxy, custom roots).
    #[must_use]
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// Sets the timeout of each request. For a download it bounds the wait
    /// for the response and then for each chunk, not the whole transfer.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest download accepted, in bytes.
    #[must_use]
    pub fn max_download_bytes(mut self, cap: u64) -> Self {
        self.max_download_bytes = cap;
        self
    }
}

/// The one reqwest client of the process. reqwest pools connections per
/// client, so every backend sharing it reuses connections; rustls gets the
/// `ring` provider because the default one (aws-lc-rs) is slow to build and
/// not under a licence the project accepts.
pub(crate) fn shared_client() -> Result<reqwest::Client> {
    static CLIENT: OnceLock<std::result::Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // Another part of the process may have installed a provider
            // already; that one is then used, which is what it asked for.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .user_agent(concat!("framebreak/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| error_chain(&e))
        })
        .clone()
        .map_err(|reason| Error::Config {
            provider: "http".into(),
            reason,
        })
}

/// One provider's view of the shared client: names the provider in every
/// error and scrubs its key from anything the server echoes back.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    pub(crate) config: HttpConfig,
    pub(crate) provider: &'static str,
    pub(crate) key: Arc<Secret>,
    pub(crate) detect: fn(&ErrorBody) -> bool,
}

/// What an error response said, whatever its shape.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub(crate) message: String,
    pub(crate) code: Option<String>,
    pub(crate) retry_delay: Option<Duration>,
}

impl Http {
    pub(crate) fn new(config: HttpConfig, provider: &'static str, key: Secret) -> Self {
        Self {
            config,
            provider,
            key: Arc::new(key),
            detect: |_| false,
        }
    }

    /// Sets the test for "this error response is a content-policy refusal".
    pub(crate) fn content_policy(mut self, detect: fn(&ErrorBody) -> bool) -> Self {
        self.detect = detect;
        self
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.config.client
    }

    /// Sends a request and returns the response if its status is a success.
    /// The timeout bounds the whole exchange, body included.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Response> {
        let (client, request) = request.timeout(self.config.timeout).build_split();
        self.execute(&client, self.build(request)?).await
    }

    /// Like [`send`](Self::send), but the timeout bounds only the wait for
    /// the response head: a download bounds each chunk instead, because a
    /// large video on a slow link may rightly take longer than any fixed
    /// total.
    pub(crate) async fn send_streaming(&self, request: RequestBuilder) -> Result<Response> {
        let (client, request) = request.build_split();
        let request = self.build(request)?;
        let url = strip_query(request.url());
        tokio::time::timeout(self.config.timeout, self.execute(&client, request))
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    provider: self.provider.into(),
                    url,
                    after: self.config.timeout,
                })
            })
    }

    fn build(&self, request: reqwest::Result<reqwest::Request>) -> Result<reqwest::Request> {
        request.map_err(|e| Error::InvalidRequest {
            provider: self.provider.into(),
            reason: self.key.scrub(&error_chain(&e)),
        })
    }

    async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<Response> {
        let url = strip_query(request.url());
        tracing::debug!(provider = self.provider, method = %request.method(), %url, "request");
        let response = client
            .execute(request)
            .await
            .map_err(|e| self.transport_error(&e, &url))?;
        let status = response.status();
        tracing::debug!(provider = self.provider, %url, status = status.as_u16(), "response");
        if status.is_success() {
            Ok(response)
        } else {
            Err(self.error_response(response).await)
        }
    }

    /// Sends a request and parses the JSON body of its success response.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<(T, HeaderMap)> {
        let response = self.send(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let url = strip_query(response.url());
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e, &url))?;
        let value = serde_json::from_slice(&body).map_err(|e| Error::MalformedResponse {
            provider: self.provider.into(),
            status: status.as_u16(),
            reason: e.to_string(),
            snippet: self.snippet(&body),
        })?;
        Ok((value, headers))
    }

    /// The error for a body that parsed as JSON but lacks what the protocol
    /// promises.
    pub(crate) fn malformed(
        &self,
        reason: impl Into<String>,
        body: &impl serde::Serialize,
    ) -> Error {
        let text = serde_json::to_vec(body).unwrap_or_default();
        Error::MalformedResponse {
            provider: self.provider.into(),
            status: 200,
            reason: reason.into(),
            snippet: self.snippet(&text),
        }
    }

    fn snippet(&self, body: &[u8]) -> String {
        const SHOWN: usize = 120;
        let head = &body[..body.len().min(SHOWN)];
        let mut text = self.key.scrub(&String::from_utf8_lossy(head));
        if body.len() > SHOWN {
            text.push('…');
        }
        if text.is_empty() {
            text.push_str("<empty>");
        }
        text
    }

    pub(crate) fn transport_error(&self, err: &reqwest::Error, url: &str) -> Error {
        if err.is_timeout() {
            Error::Timeout {
                provider: self.provider.into(),
                url: url.to_owned(),
                after: self.config.timeout,
            }
        } else {
            Error::Connect {
                provider: self.provider.into(),
                url: url.to_owned(),
                reason: self.key.scrub(&error_chain(err)),
            }
        }
    }

    async fn error_response(&self, response: Response) -> Error {
        let status = response.status();
        let headers = response.headers().clone();
        let url = strip_query(response.url());
        // An error body is small; one that is not is cut short rather than
        // read whole.
        let body = match read_capped(response, 64 << 10).await {
            Ok(body) => body,
            Err(e) => return self.transport_error(&e, &url),
        };
        let parsed = parse_error_body(&body);
        let message = if parsed.message.is_empty() {
            let reason = status.canonical_reason().unwrap_or("error");
            let text = String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_owned();
            if text.is_empty() {
                reason.to_owned()
            } else {
                format!("{reason}: {text}")
            }
        } else {
            parsed.message.clone()
        };
        let message = self.key.scrub(&message);
        let request_id = request_id(&headers);
        tracing::debug!(provider = self.provider, %url, status = status.as_u16(), %message, "error response");
        if (self.detect)(&parsed) {
            return Error::ContentPolicy {
                provider: self.provider.into(),
                message,
                request_id,
            };
        }
        let retry_after = retry_after(&headers, SystemTime::now()).or(parsed.retry_delay);
        Error::Http {
            provider: self.provider.into(),
            status: status.as_u16(),
            category: FailureCategory::from_status(status.as_u16()),
            message,
            code: parsed.code,
            request_id,
            retry_after,
            should_retry: should_retry(&headers),
        }
    }
}

async fn read_capped(mut response: Response, cap: usize) -> reqwest::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk[..chunk.len().min(cap - body.len())]);
        if body.len() >= cap {
            break;
        }
    }
    Ok(body)
}

/// Reads the error shapes the providers use: OpenAI's and Google's
/// `{"error":{"message","code","status","details"}}`, Runway's
/// `{"error":"…"}`, RFC 7807 `{"title","detail"}` (Replicate, X),
/// FastAPI's `{"detail":"…"}` or `{"detail":[{"msg","type"}]}` (Luma, fal),
/// X's `{"errors":[{"message"}]}`.
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return ErrorBody::default();
    };
    let str_of =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let mut out = ErrorBody::default();
    match value.get("error") {
        Some(serde_json::Value::String(s)) => out.message = s.clone(),
        Some(err @ serde_json::Value::Object(_)) => {
            out.message = str_of(err, "message").unwrap_or_default();
            out.code = str_of(err, "code")
                .or_else(|| str_of(err, "type"))
                .or_else(|| str_of(err, "status"));
            out.retry_delay = err
                .get("details")
                .and_then(|d| d.as_array())
                .into_iter()
                .flatten()
                .filter_map(|d| d.get("retryDelay").and_then(|r| r.as_str()))
                .find_map(parse_google_duration);
        }
        _ => {}
    }
    if out.message.is_empty() {
        match value.get("detail") {
            Some(serde_json::Value::String(s)) => out.message = s.clone(),
            Some(serde_json::Value::Array(items)) => {
                out.message = items
                    .iter()
                    .filter_map(|i| str_of(i, "msg").or_else(|| str_of(i, "message")))
                    .collect::<Vec<_>>()
                    .join("; ");
                out.code = items.iter().find_map(|i| str_of(i, "type"));
            }
            _ => {}
        }
        if let Some(title) = str_of(&value, "title") {
            out.message = if out.message.is_empty() {
                title
            } else {
                format!("{title}: {}", out.message)
            };
        }
        if out.code.is_none() {
            out.code = str_of(&value, "type").or_else(|| str_of(&value, "code"));
        }
    }
    if out.message.is_empty()
        && let Some(errors) = value.get("errors").and_then(|e| e.as_array())
    {
        out.message = errors
            .iter()
            .filter_map(|e| str_of(e, "message").or_else(|| str_of(e, "detail")))
            .collect::<Vec<_>>()
            .join("; ");
    }
    out
}

/// Google's protobuf Duration as JSON: `"30s"`, `"1.5s"`.
pub(crate) fn parse_google_duration(text: &str) -> Option<Duration> {
    let secs: f64 = text.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The wait a response asks for: `retry-after-ms` (OpenAI's, precise), then
/// `retry-after` (seconds or an HTTP date), then X's
/// `x-rate-limit-reset` (a Unix time) when nothing is left.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    if let Some(value) = text("retry-after") {
        if let Ok(secs) = value.parse::<f64>()
            && secs.is_finite()
            && secs >= 0.0
        {
            return Some(Duration::from_secs_f64(secs));
        }
        if let Ok(when) = httpdate::parse_http_date(value) {
            return Some(when.duration_since(now).unwrap_or_default());
        }
    }
    if text("x-rate-limit-remaining") == Some("0")
        && let Some(reset) = text("x-rate-limit-reset").and_then(|v| v.parse::<u64>().ok())
    {
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
        return Some(when.duration_since(now).unwrap_or_default());
    }
    None
}

/// OpenAI's `openai-poll-after-ms` hint on status responses.
pub(crate) fn poll_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("openai-poll-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
}

fn should_retry(headers: &HeaderMap) -> Option<bool> {
    match headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    [
        "x-request-id",
        "request-id",
        "x-fal-request-id",
        "x-transaction-id",
        "x-goog-request-id",
    ]
    .iter()
    .find_map(|name| headers.get(*name)?.to_str().ok().map(str::to_owned))
}

pub(crate) fn strip_query(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// The error and its causes on one line: reqwest's own message is terse
/// ("error sending request"), the cause says what happened.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// Joins a base URL and a path, whatever slashes either has.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Parses a base URL, naming the provider when it is not one.
pub(crate) fn parse_base(provider: &str, base: &str) -> Result<String> {
    url::Url::parse(base).map_err(|e| Error::Config {
        provider: provider.into(),
        reason: format!("base URL `{base}` does not parse: {e}"),
    })?;
    Ok(base.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_prefers_milliseconds_then_seconds_then_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let h = headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(1500)));
        let h = headers(&[("retry-after", "9")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(9)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let h = headers(&[("retry-after", &date)]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        let h = headers(&[
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", "1000042"),
        ]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(42)));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
    }

    #[test]
    fn error_bodies_of_every_shape_parse() {
        let b = parse_error_body(br#"{"error":{"message":"bad size","type":"invalid_request_error","code":"invalid_size"}}"#);
        assert_eq!(
            (b.message.as_str(), b.code.as_deref()),
            ("bad size", Some("invalid_size"))
        );
        let b = parse_error_body(br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"31s"}]}}"#);
        assert_eq!(b.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(b.retry_delay, Some(Duration::from_secs(31)));
        let b = parse_error_body(br#"{"title":"Invalid version","detail":"The specified version does not exist","status":422}"#);
        assert_eq!(
            b.message,
            "Invalid version: The specified version does not exist"
        );
        let b = parse_error_body(br#"{"detail":[{"loc":["body","prompt"],"msg":"flagged","type":"content_policy_violation"}]}"#);
        assert_eq!(
            (b.message.as_str(), b.code.as_deref()),
            ("flagged", Some("content_policy_violation"))
        );
        let b = parse_error_body(br#"{"error":"promptText is required"}"#);
        assert_eq!(b.message, "promptText is required");
        let b = parse_error_body(br#"{"errors":[{"message":"Too Many Requests"}]}"#);
        assert_eq!(b.message, "Too Many Requests");
        assert!(parse_error_body(b"<html>").message.is_empty());
    }

    #[test]
    fn error_chains_and_joins() {
        assert_eq!(join("http://h/", "/v1/x"), "http://h/v1/x");
        assert!(parse_base("luma", "not a url").is_err());
        let url = reqwest::Url::parse("http://h/x?key=1#f").unwrap();
        assert_eq!(strip_query(&url), "http://h/x");
    }

    #[test]
    fn the_shared_client_builds_with_ring() {
        shared_client().unwrap();
        let provider =
            rustls::crypto::CryptoProvider::get_default().expect("a provider is installed");
        assert!(!provider.cipher_suites.is_empty());
    }
}
