//! A mailbox of one that keeps only the newest value: the access actor puts each new build
//! in it without ever waiting, and the supervisor takes the newest. A build replaced before
//! it was taken is superseded anyway (every build is made from the whole registry, and the
//! supervisor never applies an older generation), so nothing is lost — and the actor can
//! never block on a supervisor that is itself waiting on the actor (a reload).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

struct Shared<T> {
    slot: Mutex<Option<T>>,
    notify: Notify,
    closed: AtomicBool,
}

/// The putting side.
pub struct Sender<T>(Arc<Shared<T>>);

/// The taking side.
pub struct Receiver<T>(Arc<Shared<T>>);

/// A new mailbox.
pub fn latest<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared { slot: Mutex::new(None), notify: Notify::new(), closed: AtomicBool::new(false) });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Puts `value` in, replacing one not taken yet; never waits. `false` when the
    /// receiver is gone.
    pub fn put(&self, value: T) -> bool {
        if Arc::strong_count(&self.0) < 2 {
            return false;
        }
        *self.0.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        self.0.notify.notify_one();
        true
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.notify.notify_one();
    }
}

impl<T> Receiver<T> {
    /// The newest value put in; `None` once the sender is gone and nothing waits.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(v) = self.0.slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
                return Some(v);
            }
            if self.0.closed.load(Ordering::Acquire) {
                return None;
            }
            self.0.notify.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_newest_value_is_taken_and_putting_never_waits() {
        let (tx, mut rx) = latest();
        for n in 0..1000 {
            assert!(tx.put(n));
        }
        assert_eq!(rx.recv().await, Some(999));
        tx.put(1000);
        drop(tx);
        assert_eq!(rx.recv().await, Some(1000), "what was put before the sender went is still taken");
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_put() {
        let (tx, mut rx) = latest();
        let taker = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.put(7);
        assert_eq!(taker.await.expect("joined"), Some(7));
    }
}
