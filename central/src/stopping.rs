//! How a Central process is asked to stop: SIGINT (Ctrl-C) or SIGTERM (what systemd,
//! `timeout` and CI send). Either ends collecting, or the demo, in order.

/// Resolves at the first SIGINT or SIGTERM.
pub async fn requested() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
