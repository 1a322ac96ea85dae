//! `Shutdown`: a cloneable flag that threads sleep on, so that a stop request
//! wakes every sleeper at once (tests inject it; `main` fires it on
//! SIGINT/SIGTERM).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<(Mutex<bool>, Condvar)>,
    /// Run once by `trigger`: wake-ups for threads that do not sleep on
    /// the flag (an event loop blocked in `epoll_wait` with no timeout).
    on_trigger: Arc<Mutex<Vec<WakeUp>>>,
}

/// A wake-up registered with [`Shutdown::on_trigger`].
type WakeUp = Box<dyn Fn() + Send + Sync>;

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
        for wake in std::mem::take(&mut *self.on_trigger.lock()) {
            wake();
        }
    }

    /// Runs `wake` when the shutdown fires (at once if it has).
    pub fn on_trigger(&self, wake: impl Fn() + Send + Sync + 'static) {
        let mut waiting = self.on_trigger.lock();
        if self.is_triggered() {
            drop(waiting);
            wake();
        } else {
            waiting.push(Box::new(wake));
        }
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
    fn wake_ups_run_once_at_the_trigger_or_at_once_after_it() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let s = Shutdown::new();
        let woken = Arc::new(AtomicUsize::new(0));
        let count = woken.clone();
        s.clone()
            .on_trigger(move || _ = count.fetch_add(1, Ordering::SeqCst));
        assert_eq!(woken.load(Ordering::SeqCst), 0);
        s.trigger();
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        s.trigger();
        assert_eq!(woken.load(Ordering::SeqCst), 1, "run once");
        let count = woken.clone();
        s.on_trigger(move || _ = count.fetch_add(10, Ordering::SeqCst));
        assert_eq!(
            woken.load(Ordering::SeqCst),
            11,
            "already triggered: at once"
        );
    }

    #[test]
    fn sleep_times_out_without_trigger() {
        assert!(!Shutdown::new().sleep(Duration::from_millis(5)));
    }
}
