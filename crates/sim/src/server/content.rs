//! `GET /v1/videos/{id}/content`: the MP4 (with the download faults), or
//! a preview made from it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::preview::{self, Variant};
use super::{AppState, authorised, bad_param, error};
use crate::Video;
use crate::jobs::Delivery;

#[derive(Deserialize)]
pub(super) struct ContentQuery {
    variant: Option<String>,
}

pub(super) async fn content(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ContentQuery>,
) -> Response {
    if let Some(denied) = authorised(&state, &headers) {
        return denied;
    }
    let variant = match q.variant.as_deref() {
        None => Variant::Video,
        Some(v) => match Variant::parse(v) {
            Some(variant) => variant,
            None => {
                return bad_param(
                    "variant",
                    &format!("variant `{v}` is not `video`, `thumbnail` or `spritesheet`"),
                );
            }
        },
    };
    state.jobs.note_download();
    let Some((video, delivery)) = state.jobs.video_to_deliver(&id).await else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("not_found"),
            &format!("Video {id} has no content (unknown, unfinished or failed)."),
        );
    };
    // Download faults are the video's: a preview is small and comes whole.
    match variant {
        Variant::Video => {
            let body = mp4_body(&video, delivery);
            // The response holds the bytes now; a whole delivery lets the
            // job drop its clip.
            if delivery == Delivery::Whole {
                state.jobs.delivered(&id);
            }
            body
        }
        Variant::Thumbnail => preview_body(video, preview::thumbnail, "image/webp").await,
        Variant::Spritesheet => preview_body(video, preview::spritesheet, "image/jpeg").await,
    }
}

/// A preview made off the runtime's threads (it decodes the clip).
async fn preview_body(
    video: Arc<Video>,
    make: fn(&Video) -> std::result::Result<Vec<u8>, String>,
    content_type: &'static str,
) -> Response {
    match tokio::task::spawn_blocking(move || make(&video)).await {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Ok(Err(message)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            &message,
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            &format!("the preview was not made: {e}"),
        ),
    }
}

/// The MP4, whole or as the download fault says.
fn mp4_body(video: &Video, delivery: Delivery) -> Response {
    let mp4 = video.mp4.clone();
    let len = mp4.len();
    let body = match delivery {
        Delivery::Whole => Body::from(mp4),
        Delivery::Truncated => {
            let half = mp4.slice(..len / 2);
            // The head and the first half go out before the body breaks
            // off; breaking at once would look like a refused connection.
            Body::from_stream(futures::stream::unfold(Some(half), |half| async move {
                match half {
                    Some(h) => Some((Ok(h), None)),
                    None => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let cut = std::io::Error::new(
                            std::io::ErrorKind::BrokenPipe,
                            "truncated by fault injection",
                        );
                        Some((Err(cut), None))
                    }
                }
            }))
        }
        Delivery::Slow(bps) => {
            let chunk = (bps as usize / 10).clamp(1, 64 << 10);
            let pieces: Vec<Bytes> = (0..len)
                .step_by(chunk)
                .map(|i| mp4.slice(i..(i + chunk).min(len)))
                .collect();
            Body::from_stream(futures::stream::unfold(
                pieces.into_iter(),
                move |mut it| async move {
                    let piece = it.next()?;
                    tokio::time::sleep(Duration::from_secs_f64(piece.len() as f64 / bps as f64))
                        .await;
                    Some((Ok::<_, std::io::Error>(piece), it))
                },
            ))
        }
    };
    (
        [
            (header::CONTENT_TYPE, "video/mp4".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response()
}
