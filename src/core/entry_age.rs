//! Fresh entries only (pure): a keypad entry that waited at the panel longer than the
//! bus's `max_entry_age` before the gateway read it — queued while the gateway was down
//! or the bus out — is refused as `stale_entry`, not decided, so a strike is never
//! released for someone who has already left. Panels of the first keypad map cannot say
//! an entry's age; their entries are taken as fresh.

use jiff::SignedDuration;

use super::decide::{AccessRequest, AccessState, Decision, DenyReason};
use super::model::SitePolicy;

/// The refusal for an entry `age_secs` old, when that is past `max_age`.
pub fn refuse_stale(
    policy: &SitePolicy,
    state: &AccessState,
    req: &AccessRequest,
    age_secs: Option<u16>,
    max_age: SignedDuration,
) -> Option<Decision> {
    let age_secs = age_secs?;
    (SignedDuration::from_secs(i64::from(age_secs)) > max_age).then(|| Decision::Deny {
        door: policy.door(req.door).map(|d| d.id.clone()),
        reason: DenyReason::StaleEntry { age_secs },
        who: None,
        kind: req.token.kind(),
        clock: state.clock,
    })
}
