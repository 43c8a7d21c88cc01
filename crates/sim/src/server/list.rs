//! `GET /v1/videos`: the jobs, a page at a time, as the OpenAI list
//! endpoints page (`limit`, `order`, an `after` cursor, `has_more`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, authorised, bad_param, bad_request, video_json};
use crate::jobs::id_number;

/// Items per page of `GET /v1/videos` when `limit` is not given, and the
/// most a page may hold.
const LIST_DEFAULT: usize = 20;
const LIST_MAX: usize = 100;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    limit: Option<String>,
    order: Option<String>,
    after: Option<String>,
}

pub(super) async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: std::result::Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    if let Some(denied) = authorised(&state, &headers) {
        return denied;
    }
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return bad_request(&e.body_text()),
    };
    let limit = match q.limit.as_deref() {
        None => LIST_DEFAULT,
        Some(l) => match l.trim().parse::<usize>() {
            Ok(n) if (1..=LIST_MAX).contains(&n) => n,
            _ => {
                return bad_param(
                    "limit",
                    &format!("`limit` = {l:?} is not a whole number from 1 to {LIST_MAX}"),
                );
            }
        },
    };
    let ascending = match q.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(o) => return bad_param("order", &format!("`order` = {o:?} is not `asc` or `desc`")),
    };
    let after = match q.after.as_deref() {
        None => None,
        Some(a) => match id_number(a) {
            Some(n) => Some(n),
            None => return bad_param("after", &format!("`after` = {a:?} is not a video id")),
        },
    };
    let (views, has_more) = state.jobs.list(ascending, after, limit);
    let data: Vec<Value> = views.iter().map(video_json).collect();
    Json(json!({
        "object": "list",
        "first_id": views.first().map(|v| &v.id),
        "last_id": views.last().map(|v| &v.id),
        "has_more": has_more,
        "data": data,
    }))
    .into_response()
}
