//! Reading what a response says beyond its status: error bodies of every
//! provider's shape, and the headers that say when to come back.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// What an error response said, whatever its shape.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub(crate) message: String,
    pub(crate) code: Option<String>,
    pub(crate) retry_delay: Option<Duration>,
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

pub(super) fn should_retry(headers: &HeaderMap) -> Option<bool> {
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

pub(super) fn request_id(headers: &HeaderMap) -> Option<String> {
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
}
