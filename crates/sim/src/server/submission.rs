//! A submission: its fields, from a JSON body or a `multipart/form-data`
//! one (which the official OpenAI SDKs send, since `input_reference` may be
//! a file), and the request they describe.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use framebreak_client::VideoRequest;
use serde::Deserialize;
use serde_json::Value;

use super::{bad_param, bad_request, error};

/// The request a submission body (JSON or a form) describes; its
/// `Idempotency-Key` header is read when `honour_key`.
pub(super) fn request_of(
    headers: &HeaderMap,
    body: &Bytes,
    honour_key: bool,
) -> std::result::Result<VideoRequest, Box<Response>> {
    let b: Fields = fields(headers, body).map_err(|refusal| match refusal {
        Refusal::MediaType(message) => Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            None,
            &message,
        )),
        Refusal::Invalid {
            param: Some(p),
            message,
        } => Box::new(bad_param(p, &message)),
        Refusal::Invalid {
            param: None,
            message,
        } => Box::new(bad_request(&message)),
    })?;
    let prompt = b
        .prompt
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| Box::new(bad_param("prompt", "`prompt` is required")))?;
    let mut r = VideoRequest::new(prompt);
    if let Some(key) = headers.get("idempotency-key").filter(|_| honour_key) {
        let key = key.to_str().map_err(|_| {
            Box::new(bad_request(
                "the Idempotency-Key header is not visible ASCII",
            ))
        })?;
        r.idempotency_key = Some(key.to_owned());
    }
    r.model = b.model;
    r.seed = b.seed;
    if let Some(s) = b.seconds {
        let secs = match &s {
            Value::String(t) => t.trim().parse::<u32>().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        };
        r.duration_secs = Some(secs.ok_or_else(|| {
            Box::new(bad_param(
                "seconds",
                &format!("`seconds` = {s} is not a whole number of seconds"),
            ))
        })?);
    }
    if let Some(size) = b.size {
        let parsed: framebreak_client::Size = size.parse().map_err(|_| {
            Box::new(bad_param(
                "size",
                &format!("`size` = {size:?} is not WIDTHxHEIGHT"),
            ))
        })?;
        r = r.size(parsed.width, parsed.height);
    }
    Ok(r)
}

/// What a submission says, whichever way it was sent.
#[derive(Debug, Default, PartialEq, Deserialize)]
struct Fields {
    prompt: Option<String>,
    #[serde(default)]
    model: Option<String>,
    /// A number or a string of digits in JSON; always a string in a form.
    #[serde(default)]
    seconds: Option<Value>,
    #[serde(default)]
    size: Option<String>,
    /// The simulator's extension: the clip's seed.
    #[serde(default)]
    seed: Option<u64>,
    /// Present (in any form) when the client sent a reference image or
    /// video, which the simulator cannot honour.
    #[serde(default)]
    input_reference: Option<Value>,
}

/// Why a body is not a submission: unsupported media type or bad request.
#[derive(Debug, PartialEq)]
enum Refusal {
    MediaType(String),
    Invalid {
        param: Option<&'static str>,
        message: String,
    },
}

fn invalid(param: Option<&'static str>, message: impl Into<String>) -> Refusal {
    Refusal::Invalid {
        param,
        message: message.into(),
    }
}

/// The fields of a submission body, read by its `Content-Type`.
fn fields(headers: &HeaderMap, body: &Bytes) -> Result<Fields, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let f: Fields = match essence.as_str() {
        "application/json" => serde_json::from_slice(body)
            .map_err(|e| invalid(None, format!("the body is not a video request: {e}")))?,
        "multipart/form-data" => from_form(content_type, body)?,
        _ => {
            return Err(Refusal::MediaType(format!(
                "the simulator accepts application/json and multipart/form-data submissions, not {:?}",
                content_type
            )));
        }
    };
    if f.input_reference.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(invalid(
            Some("input_reference"),
            "the simulator makes videos from text only: `input_reference` is not supported",
        ));
    }
    Ok(f)
}

fn from_form(content_type: &str, body: &[u8]) -> Result<Fields, Refusal> {
    let boundary = param(content_type, "boundary")
        .ok_or_else(|| invalid(None, "the multipart Content-Type names no boundary"))?;
    let mut f = Fields::default();
    for part in parts(&boundary, body).map_err(|e| invalid(None, e))? {
        if part.name == "input_reference" {
            f.input_reference = Some(Value::Bool(true));
            continue;
        }
        let text = std::str::from_utf8(part.body)
            .map_err(|_| {
                invalid(
                    None,
                    format!("form field `{}` is not UTF-8 text", part.name),
                )
            })?
            .to_owned();
        let twice = |name: &'static str| invalid(Some(name), format!("`{name}` is given twice"));
        match part.name.as_str() {
            "prompt" if f.prompt.is_some() => return Err(twice("prompt")),
            "prompt" => f.prompt = Some(text),
            "model" if f.model.is_some() => return Err(twice("model")),
            "model" => f.model = Some(text),
            "seconds" if f.seconds.is_some() => return Err(twice("seconds")),
            "seconds" => f.seconds = Some(Value::String(text)),
            "size" if f.size.is_some() => return Err(twice("size")),
            "size" => f.size = Some(text),
            "seed" if f.seed.is_some() => return Err(twice("seed")),
            "seed" => {
                f.seed = Some(text.trim().parse().map_err(|_| {
                    invalid(
                        Some("seed"),
                        format!("`seed` = {text:?} is not a whole number"),
                    )
                })?);
            }
            // As in a JSON body, fields the simulator has no use for are
            // ignored.
            _ => {}
        }
    }
    Ok(f)
}

/// One part of a form.
#[derive(Debug, PartialEq)]
struct Part<'a> {
    name: String,
    body: &'a [u8],
}

/// The parts of a `multipart/form-data` body (RFC 7578), each with its
/// `Content-Disposition` name.
fn parts<'a>(boundary: &str, body: &'a [u8]) -> Result<Vec<Part<'a>>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let unended = || "the multipart body does not end with its closing boundary".to_owned();
    // The preamble before the first delimiter is ignored.
    let mut at = find(body, delimiter, 0).ok_or_else(unended)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding, then the line break that ends the delimiter.
        let line_end = find(body, b"\r\n", at).ok_or_else(unended)?;
        if !body[at..line_end].iter().all(|b| *b == b' ' || *b == b'\t') {
            return Err("a multipart boundary line has text after the boundary".into());
        }
        let head_start = line_end + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)
            .ok_or_else(|| "a multipart part has no end to its headers".to_owned())?;
        let head = std::str::from_utf8(&body[head_start..head_end])
            .map_err(|_| "a multipart part's headers are not UTF-8".to_owned())?;
        let mut close = b"\r\n".to_vec();
        close.extend_from_slice(delimiter);
        let body_start = head_end + 4;
        let body_end = find(body, &close, body_start).ok_or_else(unended)?;
        let name = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(h, _)| h.trim().eq_ignore_ascii_case("content-disposition"))
            .and_then(|(_, v)| param(v, "name"))
            .ok_or_else(|| "a multipart part has no Content-Disposition name".to_owned())?;
        parts.push(Part {
            name,
            body: &body[body_start..body_end],
        });
        at = body_end + close.len();
    }
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The value of `key` among a header's `; key=value` parameters, unquoted.
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(key) {
            return None;
        }
        let v = v.trim();
        Some(
            match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => v.to_owned(),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn form(content_type: &str, body: &str) -> Result<Fields, Refusal> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        fields(&headers, &Bytes::from(body.to_owned()))
    }

    const SDK_LIKE: &str = "--b0\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na ball; \"bounces\"\r\n--b0\r\nContent-Disposition: form-data; name=\"seconds\"\r\n\r\n4\r\n--b0\r\nContent-Disposition: form-data; name=\"size\"\r\n\r\n96x64\r\n--b0\r\nContent-Disposition: form-data; name=\"seed\"\r\n\r\n7\r\n--b0--\r\n";

    #[test]
    fn a_form_gives_the_same_fields_as_json() {
        let f = form("multipart/form-data; boundary=b0", SDK_LIKE).unwrap();
        assert_eq!(f.prompt.as_deref(), Some("a ball; \"bounces\""));
        assert_eq!(f.seconds, Some(Value::String("4".into())));
        assert_eq!(f.size.as_deref(), Some("96x64"));
        assert_eq!(f.seed, Some(7));
        assert_eq!(f.model, None);
        let quoted = form("multipart/form-data; boundary=\"b0\"", SDK_LIKE).unwrap();
        assert_eq!(quoted, f);
    }

    #[test]
    fn a_body_without_its_closing_boundary_or_boundary_is_refused() {
        let cut = &SDK_LIKE[..SDK_LIKE.len() - 8];
        assert!(matches!(
            form("multipart/form-data; boundary=b0", cut),
            Err(Refusal::Invalid { param: None, .. })
        ));
        assert!(matches!(
            form("multipart/form-data", SDK_LIKE),
            Err(Refusal::Invalid { message, .. }) if message.contains("boundary")
        ));
    }

    #[test]
    fn a_reference_file_is_refused_naming_the_field() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name=\"input_reference\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x7fPNG\r\n--b--\r\n";
        let refused = form("multipart/form-data; boundary=b", body).unwrap_err();
        assert!(matches!(
            refused,
            Refusal::Invalid {
                param: Some("input_reference"),
                ..
            }
        ));
        let json = form(
            "application/json",
            r#"{"prompt":"x","input_reference":{"image_url":"u"}}"#,
        );
        assert!(matches!(
            json,
            Err(Refusal::Invalid {
                param: Some("input_reference"),
                ..
            })
        ));
    }

    #[test]
    fn other_media_types_and_repeated_fields_are_refused() {
        assert!(matches!(
            form("text/plain", "prompt=x"),
            Err(Refusal::MediaType(_))
        ));
        let twice = "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\ny\r\n--b--";
        assert!(matches!(
            form("multipart/form-data; boundary=b", twice),
            Err(Refusal::Invalid {
                param: Some("prompt"),
                ..
            })
        ));
    }
}
