//! The access actor's worker: document verification, allowlist rebuilds and inbox reads
//! run here, on a blocking thread of their own, never on the store's thread or the door
//! loop. It reads stored documents through its own read-only connection (SQLite's WAL
//! lets it read beside the writer) and sends the store's thread only what to write — an
//! accepted document, an audit record — so that thread runs SQL and nothing else.

use crate::credentials::intake::DocStore;
use crate::credentials::registry::BundleSource;
use crate::store::state::SignedDoc;
use crate::store::{NewEvent, Store, StoreError};

/// Reads through the worker's connection; writes through the store's thread.
pub struct WorkerStore {
    /// The read-only connection.
    pub reader: Store,
    writer: crate::store::Handle,
    runtime: tokio::runtime::Handle,
}

impl WorkerStore {
    /// Opens the read-only connection to the store at `path` (the daemon has opened and
    /// migrated it); writes go to `writer`, waited for on `runtime`.
    pub fn open(
        path: &std::path::Path,
        writer: crate::store::Handle,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, StoreError> {
        Ok(Self { reader: Store::open_read_only(path)?, writer, runtime })
    }

    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.runtime.block_on(self.writer.call(f))
    }
}

impl BundleSource for WorkerStore {
    fn bundle_bytes(&self, authority: &str) -> Option<Vec<u8>> {
        self.reader.bundle_bytes(authority)
    }
}

impl DocStore for WorkerStore {
    fn put_bundle(&mut self, doc: &SignedDoc) -> Result<(), StoreError> {
        let doc = doc.clone();
        self.write(move |s| s.put_bundle(&doc))
    }

    fn put_revocation_list(&mut self, doc: &SignedDoc) -> Result<(), StoreError> {
        let doc = doc.clone();
        self.write(move |s| s.put_revocation_list(&doc))
    }

    fn record(&mut self, event: NewEvent) -> Result<(), StoreError> {
        self.runtime.block_on(self.writer.append(event)).map(|_| ())
    }
}
