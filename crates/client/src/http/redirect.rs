//! Redirects, followed here rather than by reqwest, so that no credential
//! leaves the origin it was meant for.
//!
//! reqwest's own policy drops `Authorization`, `Cookie` and
//! `Proxy-Authorization` on a hop to another host, but not a key in a
//! header of the provider's own (Veo's `x-goog-api-key`), and it adds a
//! `Referer`. Here every credential goes as soon as a hop leaves the
//! original request's origin and never comes back, and no `Referer` is
//! ever added.

use std::time::Instant;

use reqwest::header::{self, HeaderMap, HeaderName};
use reqwest::{Method, Request, Response, StatusCode, Url};

use super::{Http, request_id, strip_query};
use crate::{Error, FailureCategory, Result};

/// The most redirects one request follows, as browsers and reqwest do.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// Headers that carry a credential whatever their value.
const CREDENTIALS: [HeaderName; 5] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    HeaderName::from_static("x-goog-api-key"),
    HeaderName::from_static("x-api-key"),
];

/// Headers that describe a body, dropped with it when a redirect turns the
/// request into a GET.
const BODY_HEADERS: [HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::TRANSFER_ENCODING,
];

impl Http {
    /// Sends `request` and follows up to [`MAX_REDIRECTS`] redirects,
    /// returning the first response that is not one (or a 300 or 304,
    /// which name no single next URL).
    ///
    /// A timeout set on `request` bounds the whole chain: each hop gets
    /// what is left of it.
    pub(super) async fn follow_redirects(
        &self,
        client: &reqwest::Client,
        mut request: Request,
    ) -> Result<Response> {
        let origin = request.url().origin();
        let deadline = request.timeout().map(|t| Instant::now() + *t);
        let mut hops = 0;
        loop {
            let url = request.url().clone();
            let method = request.method().clone();
            // A body that is a stream cannot be sent twice: keep the head.
            let (mut next, repeatable) = match request.try_clone() {
                Some(copy) => (copy, true),
                None => (head_of(&request), false),
            };
            tracing::debug!(provider = self.provider, %method, url = %strip_query(&url), "request");
            let response = client
                .execute(request)
                .await
                .map_err(|e| self.transport_error(&e, &strip_query(&url)))?;
            let status = response.status();
            if !is_followed(status) {
                return Ok(response);
            }
            if hops == MAX_REDIRECTS {
                return Err(self.refused(
                    &response,
                    format!(
                        "{} redirected more than {MAX_REDIRECTS} times in a row",
                        strip_query(&url)
                    ),
                ));
            }
            hops += 1;
            let target = self.location(&response, &url)?;
            if turns_into_get(status, &method) {
                *next.method_mut() = Method::GET;
                *next.body_mut() = None;
                for name in &BODY_HEADERS {
                    next.headers_mut().remove(name);
                }
            } else if !repeatable {
                return Err(self.refused(
                    &response,
                    format!(
                        "{} answered {status} but the request body cannot be sent again",
                        strip_query(&url)
                    ),
                ));
            }
            let crossed = target.origin() != origin;
            if crossed {
                strip_credentials(next.headers_mut(), self.key.expose());
            }
            next.headers_mut().remove(header::REFERER);
            tracing::debug!(
                provider = self.provider,
                from = %strip_query(&url),
                to = %strip_query(&target),
                status = status.as_u16(),
                credentials_dropped = crossed,
                "redirect"
            );
            *next.url_mut() = target;
            *next.timeout_mut() = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            request = next;
        }
    }

    /// The next URL a redirect names: its `Location`, resolved against the
    /// URL that answered, if it is an http(s) URL.
    fn location(&self, response: &Response, url: &Url) -> Result<Url> {
        let status = response.status();
        let from = strip_query(url);
        let Some(location) = response.headers().get(header::LOCATION) else {
            return Err(self.refused(
                response,
                format!("{from} answered {status} without a Location"),
            ));
        };
        let Some(target) = location.to_str().ok().and_then(|l| url.join(l).ok()) else {
            return Err(self.refused(
                response,
                format!("{from} answered {status} with a Location that is not a URL"),
            ));
        };
        if !matches!(target.scheme(), "http" | "https") {
            return Err(self.refused(
                response,
                format!(
                    "{from} redirected to a `{}:` URL; only http and https are followed",
                    target.scheme()
                ),
            ));
        }
        Ok(target)
    }

    /// The error for a redirect that is not followed: the 3xx itself, with
    /// why.
    fn refused(&self, response: &Response, message: String) -> Error {
        let status = response.status().as_u16();
        Error::Http {
            provider: self.provider.into(),
            status,
            category: FailureCategory::from_status(status),
            message: self.key.scrub(&message),
            code: None,
            request_id: request_id(response.headers()),
            retry_after: None,
            should_retry: None,
        }
    }
}

/// The redirects that name one next URL; 300 and 304 are answers.
fn is_followed(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Whether the next hop is a GET without body (the Fetch standard's rule):
/// a POST after 301 or 302, anything but GET and HEAD after 303. 307 and
/// 308 always repeat the method and body.
fn turns_into_get(status: StatusCode, method: &Method) -> bool {
    match status.as_u16() {
        301 | 302 => method == Method::POST,
        303 => method != Method::GET && method != Method::HEAD,
        _ => false,
    }
}

/// A request's method, URL, headers and version without its body.
fn head_of(request: &Request) -> Request {
    let mut head = Request::new(request.method().clone(), request.url().clone());
    *head.headers_mut() = request.headers().clone();
    *head.version_mut() = request.version();
    head
}

/// Removes every header that carries a credential: those named so, those
/// reqwest marked sensitive (`bearer_auth`, `basic_auth`), and any whose
/// value holds `key`.
fn strip_credentials(headers: &mut HeaderMap, key: &str) {
    for name in &CREDENTIALS {
        headers.remove(name);
    }
    let key = key.as_bytes();
    let leaking: Vec<HeaderName> = headers
        .iter()
        .filter(|(_, value)| {
            value.is_sensitive()
                || (!key.is_empty() && value.as_bytes().windows(key.len()).any(|w| w == key))
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in leaking {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn every_credential_header_is_stripped() {
        let mut headers = HeaderMap::new();
        let mut bearer = HeaderValue::from_static("Bearer k-123");
        bearer.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, bearer);
        headers.insert("x-goog-api-key", HeaderValue::from_static("k-123"));
        headers.insert("x-api-key", HeaderValue::from_static("other"));
        headers.insert(header::COOKIE, HeaderValue::from_static("s=1"));
        headers.insert("x-custom", HeaderValue::from_static("token k-123 here"));
        let mut marked = HeaderValue::from_static("opaque");
        marked.set_sensitive(true);
        headers.insert("x-signed", marked);
        headers.insert("x-runway-version", HeaderValue::from_static("2024-11-06"));
        strip_credentials(&mut headers, "k-123");
        let left: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["x-runway-version"]);
    }

    #[test]
    fn an_empty_key_matches_no_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-runway-version", HeaderValue::from_static("2024-11-06"));
        strip_credentials(&mut headers, "");
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn posts_turn_into_gets_as_fetch_says() {
        let s = |c| StatusCode::from_u16(c).unwrap();
        assert!(turns_into_get(s(301), &Method::POST));
        assert!(turns_into_get(s(302), &Method::POST));
        assert!(!turns_into_get(s(302), &Method::PUT));
        assert!(turns_into_get(s(303), &Method::DELETE));
        assert!(!turns_into_get(s(303), &Method::HEAD));
        assert!(!turns_into_get(s(307), &Method::POST));
        assert!(!turns_into_get(s(308), &Method::POST));
        assert!(!is_followed(s(300)) && !is_followed(s(304)));
    }
}
