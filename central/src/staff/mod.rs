//! The staff side of Central (`docs/central.md`, Staff keys): the roster of who may sign
//! in and their teams' doors ([`roster`]), and shift certificates signed as the issuer the
//! municipality delegated to ([`issue`]).

pub mod issue;
pub mod roster;
pub mod store;
