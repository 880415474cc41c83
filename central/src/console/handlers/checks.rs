//! The auditor's sample check of reads (`crate::checks`): the month's sample, and marking
//! one checked — itself written to the console's log.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{AppState, Asker, Params, address, failure, poster, record};
use crate::checks;
use crate::console::accounts::Right;
use crate::console::actions::LogAction;
use crate::console::check_page;

fn this_month() -> String {
    jiff::Timestamp::now().to_zoned(crate::console::i18n::stockholm()).strftime("%Y-%m").to_string()
}

pub(super) async fn checks_page(Shared(s): Shared<AppState>, a: Asker, Query(q): Query<Params>) -> Response {
    if !a.session.account.role.may(Right::CheckReads) {
        return a.forbidden();
    }
    let month = q.get("month").map_or_else(this_month, |m| m.trim().to_owned());
    if checks::month_bounds(&month).is_err() {
        return (StatusCode::BAD_REQUEST, format!("month: {month} is not YYYY-MM")).into_response();
    }
    let reads = async {
        let db = s.db.get().await?;
        checks::month(&db, &month).await
    };
    match reads.await {
        Ok(reads) => {
            let sampled = checks::sample(&reads, &month);
            a.page("checks", &check_page::checks(&a.viewer(), &month, &reads, &sampled))
        }
        Err(e) => failure(&e),
    }
}

pub(super) async fn mark_checked(
    Shared(s): Shared<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    Form(f): Form<Params>,
) -> Response {
    let a = match poster(&s, &headers, &f, Right::CheckReads).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let from = address(&s, &headers, peer);
    let name = a.session.account.name.clone();
    let Some(outcome) = f.get("outcome").map(String::as_str).filter(|o| checks::OUTCOMES.contains(o)) else {
        return (StatusCode::BAD_REQUEST, "outcome: justified or questioned").into_response();
    };
    let note = f.get("note").map(|n| n.trim()).filter(|n| !n.is_empty() && n.chars().count() <= 200);
    let done = async {
        let db = s.db.get().await?;
        checks::check(&db, id, &name, outcome, note).await
    };
    match done.await {
        Ok(true) => {
            let _ = record(
                &s,
                Some(&name),
                LogAction::CheckRead,
                &serde_json::json!({ "read": id, "outcome": outcome }).to_string(),
                &from,
            )
            .await;
            let month = f.get("month").filter(|m| checks::month_bounds(m).is_ok()).cloned().unwrap_or_else(this_month);
            Redirect::to(&format!("/checks?month={month}")).into_response()
        }
        Ok(false) => StatusCode::CONFLICT.into_response(),
        Err(e) => failure(&e),
    }
}
