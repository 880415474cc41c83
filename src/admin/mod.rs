//! The authority's side (`portvakt-admin`): building bundles from a staff or resident
//! list (CSV, as exported from a staff system), with PINs and tags hashed under the
//! site's key before they leave the authority's machine; signed remote commands and
//! collector acknowledgements.

pub mod bundle_check;
pub mod csv_import;
pub mod lifetime;
pub mod names;
pub mod remote;
pub mod workspace;
