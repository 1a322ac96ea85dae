//! `Shutdown`: a cloneable flag that threads sleep on, so that a stop request
//! wakes every sleeper at once (tests inject it; `main` fires it on
//! SIGINT/SIGTERM).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks every holder to stop and wakes every sleeper.
    pub fn trigger(&self) {
        let (lock, cv) = &*self.inner;
        *lock.lock() = true;
        cv.notify_all();
    }

    pub fn is_triggered(&self) -> bool {
        *self.inner.0.lock()
    }

    /// Sleeps for `d` or until shutdown; returns true if shutdown fired.
    pub fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let (lock, cv) = &*self.inner;
        let mut stopped = lock.lock();
        while !*stopped {
            if cv.wait_until(&mut stopped, deadline).timed_out() {
                return *stopped;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_returns_early_on_trigger() {
        let s = Shutdown::new();
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.sleep(Duration::from_secs(30)));
        // Wait until the sleeper waits on the condition variable: the
        // wake-up that finds it sends it back to sleep (not triggered yet).
        let deadline = Instant::now() + Duration::from_secs(10);
        while !s.inner.1.notify_one() {
            assert!(Instant::now() < deadline, "the sleeper never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        s.trigger();
        assert!(t.join().unwrap());
        assert!(s.is_triggered());
        assert!(s.sleep(Duration::from_secs(30)));
    }

    #[test]
    fn sleep_times_out_without_trigger() {
        assert!(!Shutdown::new().sleep(Duration::from_millis(5)));
    }
}
