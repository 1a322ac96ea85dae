//! Waiting for a socket to become readable or writable, with a timeout
//! (`poll(2)`).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

fn wait(fd: &impl AsRawFd, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    loop {
        // SAFETY: `pfd` is one valid pollfd for the duration of the call and
        // the count passed is 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc >= 0 {
            return Ok(rc > 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Whether `fd` became writable (or failed) within `timeout`.
pub fn writable(fd: &impl AsRawFd, timeout: Duration) -> io::Result<bool> {
    wait(fd, libc::POLLOUT, timeout)
}

/// Whether `fd` has something to read (data, end of stream or an error)
/// within `timeout`.
pub fn readable(fd: &impl AsRawFd, timeout: Duration) -> io::Result<bool> {
    wait(fd, libc::POLLIN, timeout)
}
