//! The HTTP plumbing every adapter shares: one pooled client, per-request
//! timeouts, redirects that never carry a key to another origin, and the
//! mapping of transport errors and error responses onto [`Error`].

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::{Error, FailureCategory, Result, Secret};

mod parse;
mod redirect;

pub(crate) use parse::{ErrorBody, parse_error_body, poll_after};
use parse::{request_id, retry_after, should_retry};

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
    ///
    /// This crate builds reqwest without a default rustls crypto provider:
    /// build `client` after [`HttpConfig::new`], which installs `ring` as
    /// the process default, or install a provider yourself. Build it with
    /// `redirect(reqwest::redirect::Policy::none())`: framebreak follows
    /// redirects itself and drops every credential on a hop to another
    /// origin, which it cannot do for a redirect the client already
    /// followed.
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
                // Redirects are followed by `Http`, which drops every
                // credential on a hop to another origin (see `redirect`).
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
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
/// error, scrubs its key from anything the server echoes back, and follows
/// redirects without sending a credential to another origin.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    pub(crate) config: HttpConfig,
    pub(crate) provider: &'static str,
    pub(crate) key: Arc<Secret>,
    pub(crate) detect: fn(&ErrorBody) -> bool,
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
    /// The timeout bounds the whole exchange, redirects and body included.
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
        let response = self.follow_redirects(client, request).await?;
        let url = strip_query(response.url());
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
        // The status said yes: the provider acted on the request even if its
        // body then breaks off, so that is a malformed answer (the effect
        // happened), not a connection failure (it may not have).
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::MalformedResponse {
                provider: self.provider.into(),
                status: status.as_u16(),
                reason: format!("the body broke off: {}", self.key.scrub(&error_chain(&e))),
                snippet: "<not received>".into(),
            })?;
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

    /// Classifies a transport failure by how far the exchange got: a
    /// failure to connect (refused, DNS, TLS, connect timeout) means the
    /// request never left; a timeout or a connection that broke after that
    /// means it may have reached the provider.
    pub(crate) fn transport_error(&self, err: &reqwest::Error, url: &str) -> Error {
        if err.is_connect() {
            Error::Connect {
                provider: self.provider.into(),
                url: url.to_owned(),
                reason: self.key.scrub(&error_chain(err)),
            }
        } else if err.is_timeout() {
            Error::Timeout {
                provider: self.provider.into(),
                url: url.to_owned(),
                after: self.config.timeout,
            }
        } else {
            Error::Interrupted {
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
            let text = readable(&String::from_utf8_lossy(&body));
            if text.is_empty() {
                reason.to_owned()
            } else {
                format!("{reason}: {text}")
            }
        } else {
            readable(&parsed.message)
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
        // Google answers a wrong key with 400 and the reason API_KEY_INVALID.
        let category = if String::from_utf8_lossy(&body).contains("API_KEY_INVALID") {
            FailureCategory::Auth
        } else {
            FailureCategory::from_status(status.as_u16())
        };
        Error::Http {
            provider: self.provider.into(),
            status: status.as_u16(),
            category,
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

/// The longest provider message kept in an error (and so in result rows and
/// reports).
const MESSAGE_CHARS: usize = 200;

/// A provider's error text made fit for a result row: an HTML page (a
/// gateway's 502) becomes its title or its text without tags, whitespace is
/// collapsed, and it is cut at [`MESSAGE_CHARS`] characters.
pub(crate) fn readable(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let html = lower.trim_start().starts_with('<') || lower.contains("<html");
    let text = if html {
        let title = lower
            .find("<title>")
            .map(|i| i + "<title>".len())
            .and_then(|start| {
                let end = start + lower[start..].find("</title>")?;
                text.get(start..end)
            })
            .filter(|t| !t.trim().is_empty());
        match title {
            Some(t) => t.to_owned(),
            None => strip_tags(text),
        }
    } else {
        text.to_owned()
    };
    let mut out: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > MESSAGE_CHARS {
        out = out.chars().take(MESSAGE_CHARS).collect();
        out.push('…');
    }
    out
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Joins a base URL and a path, whatever slashes either has. A base that
/// already ends with the path's leading segments (`…/v1` with `/v1/videos`,
/// `…/dream-machine/v1`, `…/v1beta`) is not given them twice: base URLs
/// work with or without the version path.
pub(crate) fn join(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    // Only the segments before the resource (those without `:` or `?`),
    // longest first.
    let prefix_len = segments
        .iter()
        .take_while(|s| !s.contains([':', '?']))
        .count()
        .saturating_sub(1);
    for k in (1..=prefix_len).rev() {
        let prefix = segments[..k].join("/");
        if let Some(stripped) = base.strip_suffix(&prefix)
            && stripped.ends_with('/')
            && !stripped.ends_with("//")
        {
            return format!("{stripped}{path}");
        }
    }
    format!("{base}/{path}")
}

/// A URL with any `user:password@` replaced by `***@`, for messages: a
/// base URL that does not parse is still shown without its credentials.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &url[scheme_end + at..]),
        None => url.to_owned(),
    }
}

/// Parses a base URL, naming the provider when it is not one (and never
/// echoing a password it holds).
pub(crate) fn parse_base(provider: &str, base: &str) -> Result<String> {
    url::Url::parse(base).map_err(|e| Error::Config {
        provider: provider.into(),
        reason: format!("base URL `{}` does not parse: {e}", redact_userinfo(base)),
    })?;
    Ok(base.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_base_urls_are_not_doubled() {
        assert_eq!(join("http://h/v1", "/v1/videos"), "http://h/v1/videos");
        assert_eq!(join("http://h/v1/", "/v1/videos/1"), "http://h/v1/videos/1");
        assert_eq!(
            join(
                "https://api.lumalabs.ai/dream-machine/v1",
                "/dream-machine/v1/generations/x"
            ),
            "https://api.lumalabs.ai/dream-machine/v1/generations/x"
        );
        assert_eq!(
            join(
                "https://g.example/v1beta",
                "/v1beta/models/veo:predictLongRunning"
            ),
            "https://g.example/v1beta/models/veo:predictLongRunning"
        );
        // A gateway path that merely resembles the version stays.
        assert_eq!(
            join("http://h/api/xv1", "/v1/videos"),
            "http://h/api/xv1/v1/videos"
        );
        assert_eq!(join("http://h/gw", "/v1/videos"), "http://h/gw/v1/videos");
    }

    #[test]
    fn credentials_and_html_stay_out_of_messages() {
        let err = parse_base("openai", "http://me:hunter2@exa mple.com/v1").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(
            err.to_string().contains("http://***@exa mple.com/v1"),
            "{err}"
        );
        assert_eq!(redact_userinfo("https://h/x@y"), "https://h/x@y");
        let page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";
        assert_eq!(readable(page), "502 Bad Gateway");
        assert_eq!(
            readable("<p>upstream\n   timed   out</p>"),
            "upstream timed out"
        );
        let long = "x".repeat(500);
        assert_eq!(readable(&long).chars().count(), MESSAGE_CHARS + 1);
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
