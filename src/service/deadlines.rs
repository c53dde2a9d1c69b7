//! Deadlines computed from stored times: andon escalation, handover acknowledgement timeouts
//! and reminders for unacknowledged updates. One background task looks at start (so what fell
//! due while the server was down happens at once), then every few seconds and whenever the
//! clock is moved (tests). Each sweep reads what is due from the store and records what it did
//! in the same write, so a sweep repeated, or interrupted by a crash, never acts twice.

use std::time::Duration;

use crate::domain::time::{Clock, Timestamp};

use super::Services;

/// How often the deadlines are looked at: the lateness a deadline may have.
const EVERY: Duration = Duration::from_secs(5);

/// Runs every sweep once at `now`; failures are logged and the next pass tries again.
pub async fn sweep_once(services: &Services, now: Timestamp) {
    // Each area adds its sweep here: `services.AREA.SWEEP(now).await`, logging its error.
    services.keys.flush_last_used().await;
    if let Err(e) = services.updates.sweep(now).await {
        tracing::error!(error = %e, "update acknowledgement reminders failed");
    }
    if let Err(e) = services.handovers.sweep(now).await {
        tracing::warn!(error = %e, "handover acknowledgement sweep failed");
    }
    if let Err(e) = services.andon.sweep(now).await {
        tracing::error!(error = %e, "andon escalation sweep failed");
    }
}

/// Sweeps now, every `EVERY` and whenever `clock` is advanced, until `stopping` turns true.
pub async fn run(
    services: Services,
    clock: Clock,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        sweep_once(&services, clock.now()).await;
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = clock.advanced() => {}
            _ = stopping.changed() => return,
        }
    }
}
