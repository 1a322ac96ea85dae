//! `sys`: every call backhaul makes to the operating system, and nothing
//! else. Clocks, the calling thread's CPU time, the host name and kernel
//! names, file system statistics, what a descriptor is open on, the
//! open-files limit, process groups and signals, waiting for a descriptor,
//! the web server's readiness loop (`epoll`) and its wake-up (`eventfd`),
//! non-blocking connects and socket options all go through here; the rest
//! of the crate reads files and sockets through `std`.
//!
//! Most calls go through `rustix`, which needs no `unsafe`. What is left
//! (`getrusage`, the send-queue `ioctl`, and the `pre_exec` hook of a child
//! process) is in this file, each block with its `SAFETY` argument.
//!
//! backhaul runs on Linux: `send_queue_len` and the parent-death signal are
//! Linux-specific.

use std::ffi::CStr;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Duration;

pub use rustix::process::Signal;

// ----------------------------------------------------------------------------
// clocks

/// Microseconds since the epoch, from the wall clock (0 before 1970).
pub fn now_realtime_ut() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Time since boot from the coarse monotonic clock (a few ms of
/// resolution, read without the time stamp counter: far cheaper than
/// `Instant::now` on a virtual machine). For timeouts of seconds.
pub fn coarse_monotonic() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// CPU time of the calling thread in nanoseconds, from
/// `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`: precise, where `getrusage` may
/// count in scheduler ticks.
pub fn thread_cpu_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// CPU time used by the calling thread so far, split into user and system
/// time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCpu {
    pub user_us: u64,
    pub system_us: u64,
}

impl ThreadCpu {
    /// The calling thread's CPU time, from `getrusage(RUSAGE_THREAD)`
    /// (zero if the call fails).
    pub fn current() -> ThreadCpu {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
        // SAFETY: `usage` points to writable memory of the size of a
        // `rusage`, which getrusage fills on success; RUSAGE_THREAD is a
        // valid `who` on Linux.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
        if rc != 0 {
            return ThreadCpu::default();
        }
        // SAFETY: getrusage returned 0, so it initialized the whole struct.
        let usage = unsafe { usage.assume_init() };
        let us = |tv: libc::timeval| {
            let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
            let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
            secs.saturating_mul(1_000_000).saturating_add(micros)
        };
        ThreadCpu {
            user_us: us(usage.ru_utime),
            system_us: us(usage.ru_stime),
        }
    }

    /// User and system time together, in nanoseconds.
    pub fn total_ns(&self) -> u64 {
        self.user_us
            .saturating_add(self.system_us)
            .saturating_mul(1000)
    }
}

// ----------------------------------------------------------------------------
// cache hints

/// Asks the CPU to load `items`' memory into its caches, one request per
/// 64-byte line: a hint (no effect on results) for memory that will be
/// read soon, such as a chart's dimension ids when its `BEGIN` arrives.
#[inline]
pub fn prefetch<T>(items: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = items.as_ptr().cast::<i8>();
        for offset in (0..std::mem::size_of_val(items)).step_by(64) {
            // SAFETY: `offset` is inside `items`, so the address is in
            // bounds; a prefetch is a hint that reads nothing into the
            // program and cannot fault; SSE, its target feature, is part
            // of the x86-64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = items;
}

/// [`prefetch`] of the cache line holding `items[at]`; nothing when `at`
/// is past the end.
#[inline(always)]
pub fn prefetch_at<T>(items: &[T], at: usize) {
    if let Some(item) = items.get(at) {
        prefetch(std::slice::from_ref(item));
    }
}

// ----------------------------------------------------------------------------
// the host

/// The machine's host name (`uname`'s node name, which is what
/// `gethostname` returns on Linux); `None` if it is empty.
pub fn hostname() -> Option<String> {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().into_owned();
    (!name.is_empty()).then_some(name)
}

/// The kernel's names for itself, from `uname`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelNames {
    /// `sysname`: `Linux`.
    pub name: String,
    /// `release`: `6.1.0-13-amd64`.
    pub release: String,
    /// `machine`: `x86_64`.
    pub machine: String,
}

/// The kernel's name, release and machine architecture.
pub fn kernel_names() -> KernelNames {
    let uname = rustix::system::uname();
    let text = |s: &CStr| s.to_string_lossy().into_owned();
    KernelNames {
        name: text(uname.sysname()),
        release: text(uname.release()),
        machine: text(uname.machine()),
    }
}

/// The kernel clock's synchronization state, as `adjtimex(2)` reads it
/// (changing nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSync {
    /// The call did not answer `TIME_ERROR`: the clock is synchronized.
    pub synchronized: bool,
    /// `STA_UNSYNC` is set.
    pub unsync: bool,
    /// `STA_CLOCKERR` is set.
    pub clockerr: bool,
    /// The offset from the reference clock, in `offset_per_ms` units per
    /// millisecond.
    pub offset: i64,
    /// 1000 (µs) or 1000000 (ns, with `STA_NANO`).
    pub offset_per_ms: i64,
}

/// Reads the kernel clock's synchronization state (`adjtimex` with no
/// modes).
pub fn clock_sync() -> io::Result<ClockSync> {
    // SAFETY: an all-zero `timex` is a valid value (integers and padding).
    let mut buf: libc::timex = unsafe { std::mem::zeroed() };
    buf.modes = 0;
    // SAFETY: `buf` is a valid, writable `timex` for the whole call; with
    // `modes` 0 the kernel only reads the clock into it.
    let rc = unsafe { libc::adjtimex(&mut buf) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(ClockSync {
        synchronized: rc != libc::TIME_ERROR,
        unsync: buf.status & libc::STA_UNSYNC != 0,
        clockerr: buf.status & libc::STA_CLOCKERR != 0,
        offset: buf.offset,
        offset_per_ms: if buf.status & libc::STA_NANO != 0 {
            1_000_000
        } else {
            1000
        },
    })
}

/// Raises the soft limit on open files to the hard limit (a server with
/// thousands of connections needs them; netdata does the same) and returns
/// the soft limit now in force (`None`: unlimited or unknown).
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum;
        }
    }
    limit.current
}

/// What `statvfs` tells about a mounted file system: the fields backhaul
/// reads, under their C names. Counts of blocks are in units of
/// `f_frsize` (or `f_bsize` where that is 0).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatVfs {
    pub f_bsize: u64,
    pub f_frsize: u64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    /// `u64::MAX` when the file system does not count inodes.
    pub f_favail: u64,
}

/// The size of a memory page in bytes (what the kernel counts socket
/// buffer memory in).
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// `statvfs(path)`.
pub fn statvfs(path: &CStr) -> io::Result<StatVfs> {
    let st = rustix::fs::statvfs(path)?;
    Ok(StatVfs {
        f_bsize: st.f_bsize,
        f_frsize: st.f_frsize,
        f_blocks: st.f_blocks,
        f_bfree: st.f_bfree,
        f_bavail: st.f_bavail,
        f_files: st.f_files,
        f_ffree: st.f_ffree,
        f_favail: st.f_favail,
    })
}

/// The device and inode numbers of what `fd` is open on (`fstat`): what
/// systemd's `JOURNAL_STREAM` names, to tell whether stderr is the journal.
pub fn device_and_inode(fd: impl AsFd) -> io::Result<(u64, u64)> {
    let st = rustix::fs::fstat(fd)?;
    Ok((st.st_dev, st.st_ino))
}

// ----------------------------------------------------------------------------
// processes

/// Makes `command`'s child receive `signal` when the thread that spawned it
/// ends (Linux's `PR_SET_PDEATHSIG`), so a killed agent leaves no child
/// behind. Spawning fails if the setting cannot be made.
pub fn signal_child_on_parent_death(command: &mut Command, signal: Signal) {
    // SAFETY: the hook runs in the child between fork and exec, where only
    // async-signal-safe work is allowed: it makes one prctl system call
    // (rustix calls the kernel directly), allocates nothing on success,
    // takes no lock and touches no memory shared with the parent. On
    // failure it builds an `io::Error` from an errno, which holds no
    // allocation either.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(signal)).map_err(io::Error::from)
        });
    }
}

/// Whether spawning a program failed for a reason that retrying cannot
/// cure: it is missing, not executable, not a program, or a directory.
pub fn spawn_error_is_permanent(error: &io::Error) -> bool {
    use rustix::io::Errno;
    [
        Errno::NOENT,
        Errno::ACCESS,
        Errno::NOEXEC,
        Errno::NOTDIR,
        Errno::ISDIR,
    ]
    .iter()
    .any(|errno| error.raw_os_error() == Some(errno.raw_os_error()))
}

/// Sends `signal` to one process (a child the caller started).
pub fn signal_process(child: &Child, signal: Signal) -> io::Result<()> {
    rustix::process::kill_process(rustix::process::Pid::from_child(child), signal)?;
    Ok(())
}

/// The process group a child leads (one started with
/// `Command::process_group(0)`, whose group id is its pid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessGroup(rustix::process::Pid);

impl ProcessGroup {
    /// The group `child` leads; `None` for pid 1 (which leads no group of
    /// ours, and a signal to it would go elsewhere).
    pub fn led_by(child: &Child) -> Option<ProcessGroup> {
        let pid = rustix::process::Pid::from_child(child);
        (!pid.is_init()).then_some(ProcessGroup(pid))
    }

    /// The group's id (its leader's pid).
    pub fn id(self) -> i32 {
        self.0.as_raw_nonzero().get()
    }

    /// Sends `signal` to every process of the group. A group that is gone
    /// is not an error worth reporting: the result is ignored.
    pub fn signal(self, signal: Signal) {
        let _ = rustix::process::kill_process_group(self.0, signal);
    }

    /// Whether a process of the group still exists (zombies included):
    /// `kill(-pgid, 0)` succeeds, or fails only for want of permission.
    pub fn exists(self) -> bool {
        match rustix::process::test_kill_process_group(self.0) {
            Ok(()) => true,
            Err(errno) => errno == rustix::io::Errno::PERM,
        }
    }
}

/// Waits until `fd` is readable (data, end of file or error) or `timeout`
/// passed; `Ok(false)` on timeout or interruption.
pub fn wait_readable(fd: impl AsFd, timeout: Duration) -> io::Result<bool> {
    wait_for(fd, rustix::event::PollFlags::IN, timeout)
}

/// Waits until `fd` is writable (or failed: a connection attempt that
/// ended either way) or `timeout` passed; `Ok(false)` on timeout or
/// interruption.
pub fn wait_writable(fd: impl AsFd, timeout: Duration) -> io::Result<bool> {
    wait_for(fd, rustix::event::PollFlags::OUT, timeout)
}

/// Waits until `fd` is readable (or at its end), `waker` was woken, or
/// `timeout` passed (`None`: no timeout). Returns whether `fd` is readable;
/// `Ok(false)` on a wake-up, timeout or interruption.
pub fn wait_readable_or_woken(
    fd: impl AsFd,
    waker: &Waker,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut fds = [
        PollFd::new(&fd, PollFlags::IN),
        PollFd::new(waker, PollFlags::IN),
    ];
    let timeout = timeout.map(|timeout| {
        Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        })
    });
    match poll(&mut fds, timeout.as_ref()) {
        Ok(_) => Ok(!fds[0].revents().is_empty()),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

fn wait_for(
    fd: impl AsFd,
    events: rustix::event::PollFlags,
    timeout: Duration,
) -> io::Result<bool> {
    use rustix::event::{poll, PollFd, Timespec};
    let mut fds = [PollFd::new(&fd, events)];
    let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    });
    match poll(&mut fds, Some(&timeout)) {
        Ok(ready) => Ok(ready > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

// ----------------------------------------------------------------------------
// the readiness loop

/// What a descriptor registered with a [`Poller`] became ready for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The token it was registered with.
    pub token: u64,
    pub readable: bool,
    pub writable: bool,
    /// The peer hung up or the descriptor failed (reading will tell how).
    pub closed: bool,
}

/// A level-triggered `epoll` set: descriptors registered under a token,
/// and a wait that reports which are ready.
#[derive(Debug)]
pub struct Poller {
    epoll: OwnedFd,
}

/// Most readiness reports one [`Poller::wait`] returns (the rest come on
/// the next).
const POLL_BATCH: usize = 256;

impl Poller {
    /// A new, empty set.
    pub fn new() -> io::Result<Poller> {
        let epoll = rustix::event::epoll::create(rustix::event::epoll::CreateFlags::CLOEXEC)?;
        Ok(Poller { epoll })
    }

    fn flags(read: bool, write: bool) -> rustix::event::epoll::EventFlags {
        use rustix::event::epoll::EventFlags;
        let mut flags = EventFlags::empty();
        if read {
            flags |= EventFlags::IN;
        }
        if write {
            flags |= EventFlags::OUT;
        }
        flags
    }

    /// Registers `fd` under `token`, waiting for reading and/or writing.
    /// Hang-ups and errors are always reported; a peer that only shut down
    /// its side shows as readable (a read returns 0).
    pub fn add(&self, fd: impl AsFd, token: u64, read: bool, write: bool) -> io::Result<()> {
        use rustix::event::epoll;
        epoll::add(
            &self.epoll,
            fd,
            epoll::EventData::new_u64(token),
            Self::flags(read, write),
        )?;
        Ok(())
    }

    /// Changes what a registered `fd` waits for.
    pub fn modify(&self, fd: impl AsFd, token: u64, read: bool, write: bool) -> io::Result<()> {
        use rustix::event::epoll;
        epoll::modify(
            &self.epoll,
            fd,
            epoll::EventData::new_u64(token),
            Self::flags(read, write),
        )?;
        Ok(())
    }

    /// Unregisters `fd` (closing it does too).
    pub fn delete(&self, fd: impl AsFd) -> io::Result<()> {
        rustix::event::epoll::delete(&self.epoll, fd)?;
        Ok(())
    }

    /// Waits up to `timeout` (`None`: until one is) for registered
    /// descriptors to become ready and puts them in `ready` (cleared first;
    /// empty on timeout or interruption).
    pub fn wait(&self, timeout: Option<Duration>, ready: &mut Vec<Readiness>) -> io::Result<()> {
        use rustix::event::epoll::{self, Event, EventData, EventFlags};
        use rustix::event::Timespec;
        ready.clear();
        let mut events = [Event {
            flags: EventFlags::empty(),
            data: EventData::new_u64(0),
        }; POLL_BATCH];
        let timeout = timeout.map(|timeout| {
            Timespec::try_from(timeout).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            })
        });
        let count = match epoll::wait(&self.epoll, &mut events[..], timeout.as_ref()) {
            Ok(count) => count,
            Err(rustix::io::Errno::INTR) => return Ok(()),
            Err(errno) => return Err(errno.into()),
        };
        ready.extend(events.iter().take(count).map(|event| {
            let flags = event.flags;
            Readiness {
                token: event.data.u64(),
                readable: flags.contains(EventFlags::IN),
                writable: flags.contains(EventFlags::OUT),
                closed: flags.intersects(EventFlags::HUP | EventFlags::ERR),
            }
        }));
        Ok(())
    }
}

/// Wakes a thread waiting in [`Poller::wait`] from another thread: an
/// `eventfd` the waiting thread registers for reading.
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        use rustix::event::{eventfd, EventfdFlags};
        let fd = eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC)?;
        Ok(Waker { fd })
    }

    /// Makes the descriptor readable (a full counter already is).
    pub fn wake(&self) {
        let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
    }

    /// Makes it unreadable again.
    pub fn reset(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.fd, &mut buf);
    }
}

impl AsFd for Waker {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

// ----------------------------------------------------------------------------
// sockets

/// Caps `stream`'s kernel send buffer at about `bytes` (`SO_SNDBUF`; the
/// kernel doubles the value for its bookkeeping), which bounds the bytes in
/// flight. Values beyond `i32::MAX` are taken as `i32::MAX`.
pub fn set_send_buffer(stream: &TcpStream, bytes: usize) -> io::Result<()> {
    let bytes = bytes.min(i32::MAX as usize);
    rustix::net::sockopt::set_socket_send_buffer_size(stream, bytes)?;
    Ok(())
}

/// Makes closing `stream` reset the connection (`SO_LINGER` of zero): the
/// kernel drops what it still holds unsent or unacknowledged instead of
/// going on sending it.
pub fn reset_on_close(stream: &TcpStream) -> io::Result<()> {
    rustix::net::sockopt::set_socket_linger(stream, Some(Duration::ZERO))?;
    Ok(())
}

/// Asks for a kernel receive buffer of about `bytes` on `socket`
/// (`SO_RCVBUF`; the kernel caps it at `net.core.rmem_max`). Returns the
/// size the kernel granted.
pub fn set_receive_buffer(socket: &std::net::UdpSocket, bytes: usize) -> io::Result<usize> {
    let bytes = bytes.min(i32::MAX as usize);
    rustix::net::sockopt::set_socket_recv_buffer_size(socket, bytes)?;
    Ok(rustix::net::sockopt::socket_recv_buffer_size(socket)?)
}

/// A TCP connection attempt under way: [`Connecting::start`] does not
/// block; wait for the socket with [`wait_writable`], then
/// [`Connecting::finish`] tells how the attempt ended.
#[derive(Debug)]
pub struct Connecting(TcpStream);

impl Connecting {
    /// Starts connecting a new non-blocking TCP socket to `addr`.
    pub fn start(addr: SocketAddr) -> io::Result<Connecting> {
        use rustix::net::{ipproto, AddressFamily, SocketFlags, SocketType};
        let family = if addr.is_ipv4() {
            AddressFamily::INET
        } else {
            AddressFamily::INET6
        };
        let fd = rustix::net::socket_with(
            family,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            Some(ipproto::TCP),
        )?;
        match rustix::net::connect(&fd, &addr) {
            // Interrupted or not, a non-blocking connect goes on by itself.
            Ok(()) | Err(rustix::io::Errno::INPROGRESS | rustix::io::Errno::INTR) => {}
            Err(errno) => return Err(errno.into()),
        }
        Ok(Connecting(TcpStream::from(fd)))
    }

    /// After [`wait_writable`] said so: the connected stream, back in
    /// blocking mode, or why the attempt failed.
    pub fn finish(self) -> io::Result<TcpStream> {
        if let Err(errno) = rustix::net::sockopt::socket_error(&self.0)? {
            return Err(errno.into());
        }
        // A connect that failed without leaving an error shows here.
        self.0.peer_addr()?;
        self.0.set_nonblocking(false)?;
        Ok(self.0)
    }
}

impl AsFd for Connecting {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Bytes written on `stream` that the peer has not acknowledged yet: the
/// socket's send queue (Linux `SIOCOUTQ`, which is `TIOCOUTQ`'s number).
/// `None` if the kernel does not say.
pub fn send_queue_len(stream: &TcpStream) -> Option<usize> {
    let mut pending: libc::c_int = 0;
    // SAFETY: for a TCP socket, TIOCOUTQ (== SIOCOUTQ) writes one `int`
    // through its argument, which points to `pending`, alive and writable
    // for the whole call; the descriptor is valid while `stream` is
    // borrowed.
    let rc = unsafe {
        libc::ioctl(
            stream.as_raw_fd(),
            libc::TIOCOUTQ,
            &mut pending as *mut libc::c_int,
        )
    };
    if rc != 0 {
        return None;
    }
    usize::try_from(pending).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::net::TcpListener;

    #[test]
    fn clocks_move_forward() {
        let t0 = now_realtime_ut();
        assert!(t0 > 1_600_000_000_000_000, "{t0}");
        let c0 = thread_cpu_ns();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(thread_cpu_ns() > c0);
        let cpu = ThreadCpu::current();
        assert_eq!(cpu.total_ns(), (cpu.user_us + cpu.system_us) * 1000);
    }

    #[test]
    fn the_host_has_a_name() {
        assert!(hostname().is_some_and(|name| !name.is_empty()));
    }

    #[test]
    fn statvfs_of_the_root() {
        let st = statvfs(c"/").expect("statvfs /");
        assert!(st.f_bsize > 0 && st.f_blocks > 0);
        assert!(statvfs(c"/no/such/dir").is_err());
    }

    #[test]
    fn process_groups_and_spawn_errors() {
        let missing = Command::new("/no/such/program").spawn().unwrap_err();
        assert!(spawn_error_is_permanent(&missing));
        assert!(!spawn_error_is_permanent(&io::Error::from(
            io::ErrorKind::TimedOut
        )));
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "exec sleep 30"]).process_group(0);
        signal_child_on_parent_death(&mut command, Signal::TERM);
        let mut child = command.spawn().expect("spawn /bin/sh");
        let group = ProcessGroup::led_by(&child).expect("a group");
        assert_eq!(u32::try_from(group.id()).ok(), Some(child.id()));
        assert!(group.exists());
        group.signal(Signal::KILL);
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(Signal::KILL.as_raw()));
        assert!(!group.exists());
    }

    #[test]
    fn send_buffer_and_queue() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _peer = listener.accept().unwrap();
        set_send_buffer(&stream, 8192).unwrap();
        set_send_buffer(&stream, usize::MAX).unwrap();
        assert_eq!(send_queue_len(&stream), Some(0));
        stream.write_all(b"hello\n").unwrap();
        // Acknowledged at once on loopback, or still queued: never more.
        assert!(send_queue_len(&stream).is_some_and(|n| n <= 6));
    }

    #[test]
    fn connections_start_without_blocking() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let connecting = Connecting::start(listener.local_addr().unwrap()).unwrap();
        assert!(wait_writable(&connecting, Duration::from_secs(5)).unwrap());
        let stream = connecting.finish().expect("connected");
        assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
        reset_on_close(&stream).unwrap();

        let dead = listener.local_addr().unwrap();
        drop(listener);
        let refused = Connecting::start(dead).and_then(|connecting| {
            assert!(wait_writable(&connecting, Duration::from_secs(5))?);
            connecting.finish()
        });
        assert_eq!(
            refused.unwrap_err().kind(),
            io::ErrorKind::ConnectionRefused
        );
    }

    #[test]
    fn readable_after_a_write_and_not_before() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        assert!(!wait_readable(&peer, Duration::from_millis(10)).unwrap());
        stream.write_all(b"x").unwrap();
        assert!(wait_readable(&peer, Duration::from_secs(5)).unwrap());
    }
}
