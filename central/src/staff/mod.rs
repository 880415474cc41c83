//! The staff side of Central (`docs/central.md`, Staff keys): a staff member signs in at
//! the municipality's identity provider ([`oidc`], [`oidc_http`]), is found in the roster
//! published from its workspace ([`roster`], [`store`]), and gets a shift certificate for
//! a key the phone proves it holds, signed as the issuer the municipality delegated to
//! ([`issue`]). The web routes are the console's (`console/handlers/staff.rs`).

pub mod issue;
pub mod oidc;
pub mod oidc_http;
pub mod revocations;
pub mod roster;
pub mod store;

/// What the staff side runs with (`serve --delegation … --issuer-key … --oidc-…`).
#[derive(Debug)]
pub struct StaffSide {
    /// Central as the delegated issuer.
    pub issuer: issue::Issuer,
    /// The identity provider.
    pub oidc: oidc_http::Oidc,
    /// The ID token's claim that names a person in the roster (`email`, or an HSA-id's).
    pub login_claim: String,
    /// How long a staff session lasts (a shift).
    pub session: jiff::SignedDuration,
}
