//! The request workers: `web server threads` threads taking complete
//! requests from a bounded queue, routing them and encoding the response
//! (gzip included), then handing the bytes back to the event loop, which
//! writes them. A worker never touches a socket, so a slow client never
//! holds one.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::response::{encode_owned, Encoding, Response};
use super::routes::{self, Context, Outcome};
use super::server::StreamHandler;
use super::Request;
use crate::sys::Waker;

/// One request for a worker.
pub struct Job {
    /// The connection's id in the event loop.
    pub id: u64,
    pub request: Request,
}

/// What a worker hands back.
pub enum Done {
    /// Write these bytes; keep the connection after them or not.
    Respond {
        id: u64,
        bytes: Vec<u8>,
        keep_alive: bool,
        status: u16,
    },
    /// Give the connection to `handler`.
    Upgrade {
        id: u64,
        handler: Arc<dyn StreamHandler>,
        request: Request,
    },
}

/// The running workers.
pub struct Pool {
    jobs: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `threads` workers behind a queue of `queue` requests; each
    /// answer goes to `done`, with `waker` woken.
    pub fn start(
        threads: usize,
        queue: usize,
        ctx: Arc<Context>,
        done: Sender<Done>,
        waker: Arc<Waker>,
    ) -> std::io::Result<Pool> {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let mut handles = Vec::with_capacity(threads);
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            let ctx = ctx.clone();
            let done = done.clone();
            let waker = waker.clone();
            let handle = std::thread::Builder::new()
                .name(format!("web:worker{n}"))
                .spawn(move || work(&receiver, &ctx, &done, &waker))?;
            handles.push(handle);
        }
        Ok(Pool {
            jobs: Some(jobs),
            threads: handles,
        })
    }

    /// Queues a request; gives it back when the queue is full.
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        match &self.jobs {
            Some(jobs) => jobs.try_send(job).map_err(|e| match e {
                TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
            }),
            None => Err(job),
        }
    }

    /// Lets the workers finish what they have and waits for them.
    pub fn stop(mut self) {
        self.jobs = None;
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>, ctx: &Context, done: &Sender<Done>, waker: &Waker) {
    loop {
        let job = {
            let receiver = receiver.lock();
            receiver.recv()
        };
        let Ok(Job { id, request }) = job else {
            return;
        };
        let now_us = crate::sys::now_realtime_ut();
        let now_s = i64::try_from(now_us / 1_000_000).unwrap_or(i64::MAX);
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| routes::route(ctx, &request, now_s)))
                .unwrap_or_else(|_| {
                    tracing::error!(
                        target = %String::from_utf8_lossy(&request.target),
                        "web request handler panicked; answered 500"
                    );
                    Outcome::Respond(Response::text(500, "Internal error.").closing())
                });
        let message = match outcome {
            Outcome::Respond(response) => {
                let keep_alive = request.keep_alive && !response.close;
                let status = response.status;
                let bytes = encode_owned(
                    response,
                    &Encoding {
                        head_only: request.method == "HEAD",
                        keep_alive,
                        gzip_level: ctx.gzip_level.filter(|_| request.accepts_gzip),
                        gzip_counts: Some(&ctx.gzip_counts),
                        now_s: now_us / 1_000_000,
                    },
                    |body| ctx.allmetrics.recycle_body(body),
                );
                Done::Respond {
                    id,
                    bytes,
                    keep_alive,
                    status,
                }
            }
            Outcome::Upgrade(handler) => Done::Upgrade {
                id,
                handler,
                request,
            },
        };
        if done.send(message).is_err() {
            return;
        }
        waker.wake();
    }
}
