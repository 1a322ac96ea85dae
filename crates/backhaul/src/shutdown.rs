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
    /// Run once by `trigger` before the flag is set: doors to close before
    /// anything winds down (see [`Shutdown::before_trigger`]).
    before_trigger: Arc<Mutex<Vec<WakeUp>>>,
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
        for close in std::mem::take(&mut *self.before_trigger.lock()) {
            close();
        }
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

    /// Runs `close` when the shutdown fires, before the flag is set and
    /// before any sleeper or [`Shutdown::on_trigger`] wake-up runs (at once if
    /// it has fired): for doors that must be shut before anything winds
    /// down, such as a listening port that must refuse a peer reconnecting
    /// the moment its connection is dropped.
    pub fn before_trigger(&self, close: impl Fn() + Send + Sync + 'static) {
        let mut waiting = self.before_trigger.lock();
        if self.is_triggered() {
            drop(waiting);
            close();
        } else {
            waiting.push(Box::new(close));
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
    fn doors_close_before_anyone_learns_of_the_shutdown() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let s = Shutdown::new();
        let closed = Arc::new(AtomicBool::new(false));
        let (seen_by_before, seen_by_wake) =
            (Arc::new(Mutex::new(None)), Arc::new(Mutex::new(None)));
        let (probe, door, seen) = (s.clone(), closed.clone(), seen_by_before.clone());
        s.before_trigger(move || {
            *seen.lock() = Some(probe.is_triggered());
            door.store(true, Ordering::SeqCst);
        });
        let (door, seen) = (closed.clone(), seen_by_wake.clone());
        s.on_trigger(move || *seen.lock() = Some(door.load(Ordering::SeqCst)));
        let (sleeper, door) = (s.clone(), closed.clone());
        let woken = std::thread::spawn(move || {
            sleeper.sleep(Duration::from_secs(30));
            door.load(Ordering::SeqCst)
        });
        s.trigger();
        assert_eq!(
            *seen_by_before.lock(),
            Some(false),
            "run before the flag is set"
        );
        assert_eq!(
            *seen_by_wake.lock(),
            Some(true),
            "wake-ups find the door shut"
        );
        assert!(woken.join().unwrap(), "sleepers find the door shut");
        let late = Arc::new(AtomicBool::new(false));
        let flag = late.clone();
        s.before_trigger(move || flag.store(true, Ordering::SeqCst));
        assert!(late.load(Ordering::SeqCst), "already triggered: at once");
    }

    #[test]
    fn sleep_times_out_without_trigger() {
        assert!(!Shutdown::new().sleep(Duration::from_millis(5)));
    }
}
