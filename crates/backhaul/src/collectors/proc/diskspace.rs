//! Disk space: `statvfs` of each mounted filesystem listed in
//! `/proc/self/mountinfo`, as netdata's diskspace plugin charts it
//! (`disk_space.MOUNT` in GiB and `disk_inodes.MOUNT`, with `avail`, `used`
//! and `reserved_for_root`). `MOUNT` is the mount point made fit for a
//! chart id (`/` → `_`, `/dev/shm` → `_dev_shm`).
//!
//! Which filesystems, as netdata does by default:
//! * not pseudo filesystems (`proc`, `sysfs`, `devpts`, ..., see
//!   [`super::mountinfo`]), nor the first read-only sight of a mount;
//! * not below `/proc/`, `/sys/`, `/var/run/user/`, `/run/user/`, `/snap/`,
//!   `/var/lib/docker/`, nor of types `*gvfs *gluster* *s3fs *ipfs *davfs2
//!   *httpfs *sshfs *gdfs *moosefs fusectl autofs`;
//! * the mount point must be a directory;
//! * a chart appears once its numbers are not all zero.
//!
//! `tmpfs` and `devtmpfs` are kept (netdata 1.37 shows `/dev` and
//! `/dev/shm`). The mount list is re-read every 15 s at most (or every
//! update, if slower) and parsed again only when it changed; a filesystem
//! that is unmounted has its charts marked obsolete.
//!
//! Mount points are looked up below the host root, like every other file.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rrd::{ChartDef, ChartType, Host};
use wire::simple_pattern::SimplePattern;

use super::chart_handle::{auto_label, ChartHandle, Cycle, DimSpec, RefusedRounds};
use super::mountinfo::{parse_mountinfo, Mount};
use super::parse::netdata_chart_id;
use super::source::{host_path, SourceFile, Trouble};
use super::DISKSPACE_PLUGIN;
use crate::collectors::Collector;
use crate::sys::{statvfs, StatVfs};

/// netdata's `exclude space metrics on paths`.
pub const EXCLUDED_PATHS: &str =
    "/proc/* /sys/* /var/run/user/* /run/user/* /snap/* /var/lib/docker/*";

/// netdata's `exclude space metrics on filesystems`.
pub const EXCLUDED_FILESYSTEMS: &str =
    "*gvfs *gluster* *s3fs *ipfs *davfs2 *httpfs *sshfs *gdfs *moosefs fusectl autofs";

/// Mount points systemd's ProtectHome/ProtectSystem remount read-only in a
/// service's namespace; netdata skips those read-only bind copies.
const SYSTEMD_PROTECTED: &[&str] = &[
    "/home",
    "/root",
    "/usr",
    "/boot",
    "/efi",
    "/etc",
    "/run/user",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
];

/// How often, at most, the mount list is read again (seconds).
const MOUNT_CHECK_EVERY: u32 = 15;

const GIB: i64 = 1024 * 1024 * 1024;
const SPACE_PRIORITY: i64 = 2023;
const INODES_PRIORITY: i64 = 2024;

const INODES_DIMS: [DimSpec; 3] = [
    DimSpec::absolute("avail", 1, 1),
    DimSpec::absolute("used", 1, 1),
    DimSpec::absolute("reserved_for_root", 1, 1).named("reserved for root"),
];

/// netdata's yes / no / auto (yes once there is something to show).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Switch {
    No,
    Auto,
    Yes,
}

/// The numbers of one `statvfs`, split as netdata splits them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Usage {
    block_size: u64,
    blocks_avail: u64,
    blocks_used: u64,
    blocks_reserved: u64,
    /// `None` when the filesystem does not count inodes.
    inodes: Option<[u64; 3]>,
}

impl Usage {
    fn from_statvfs(st: &StatVfs) -> Usage {
        let block_size = if st.f_frsize != 0 {
            st.f_frsize
        } else {
            st.f_bsize
        };
        let (total, free, avail) = (st.f_blocks, st.f_bfree, st.f_bavail);
        let used = total.abs_diff(free);
        let inodes = (st.f_favail != u64::MAX).then(|| {
            let (total, free, avail) = (st.f_files, st.f_ffree, st.f_favail);
            [
                avail,
                total.saturating_sub(free),
                free.saturating_sub(avail),
            ]
        });
        Usage {
            block_size,
            blocks_avail: avail,
            blocks_used: used,
            blocks_reserved: free.saturating_sub(avail),
            inodes,
        }
    }
}

fn as_collected(value: u64) -> Option<i64> {
    i64::try_from(value).ok()
}

/// What the collector keeps about one mount point.
struct MountPoint {
    mount: Mount,
    /// The mount point below the host root, ready for `statvfs`.
    path: CString,
    space: Switch,
    inodes: Switch,
    /// Collected at least once (a read-only mount is skipped until then).
    collected: bool,
    /// Still listed in the last mount list read.
    listed: bool,
    statvfs_trouble: Trouble,
    space_chart: Option<ChartHandle>,
    inodes_chart: Option<ChartHandle>,
}

impl MountPoint {
    fn chart(&self, type_: &str, context: &str, title: &str, units: &str) -> ChartDef {
        let mut def = ChartDef::new(type_, netdata_chart_id(&self.mount.mount_point))
            .family(self.mount.mount_point.as_str())
            .context(context)
            .title(title)
            .units(units)
            .chart_type(ChartType::Stacked)
            .label(auto_label("mount_point", &self.mount.mount_point))
            .label(auto_label("filesystem", &self.mount.filesystem))
            .label(auto_label("mount_root", &self.mount.root));
        def.plugin = DISKSPACE_PLUGIN.to_string();
        def
    }

    fn mark_obsolete(&mut self) {
        super::chart_handle::mark_all_obsolete([&mut self.space_chart, &mut self.inodes_chart]);
    }

    fn collect(&mut self, host: &Host, update_every: u32, cycle: &mut Cycle) {
        if self.space == Switch::No && self.inodes == Switch::No {
            return;
        }
        if self.mount.read_only && !self.collected {
            return;
        }
        let st = match statvfs(&self.path) {
            Ok(st) => {
                self.statvfs_trouble.recover();
                st
            }
            Err(error) => {
                if self.statvfs_trouble.fail() {
                    tracing::warn!(mount_point = %self.mount.mount_point, %error, "cannot statvfs");
                }
                return;
            }
        };
        let usage = Usage::from_statvfs(&st);
        let mut rendered = false;

        let blocks = [usage.blocks_avail, usage.blocks_used, usage.blocks_reserved];
        if self.space == Switch::Auto && blocks.iter().any(|&b| b != 0) {
            self.space = Switch::Yes;
        }
        if self.space == Switch::Yes {
            if self.space_chart.is_none() {
                let multiplier = i64::try_from(usage.block_size).unwrap_or(1);
                let dims = [
                    DimSpec::absolute("avail", multiplier, GIB),
                    DimSpec::absolute("used", multiplier, GIB),
                    DimSpec::absolute("reserved_for_root", multiplier, GIB)
                        .named("reserved for root"),
                ];
                let def = self
                    .chart("disk_space", "disk.space", "Disk Space Usage", "GiB")
                    .priority(SPACE_PRIORITY)
                    .update_every(update_every);
                self.space_chart = Some(ChartHandle::create(host, def, &dims));
            }
            if let Some(chart) = &mut self.space_chart {
                chart.update(cycle, &blocks.map(as_collected));
                rendered = true;
            }
        }

        if self.inodes == Switch::Auto {
            match usage.inodes {
                None => self.inodes = Switch::No,
                Some(inodes) if inodes.iter().any(|&i| i != 0) => self.inodes = Switch::Yes,
                Some(_) => {}
            }
        }
        if let (Switch::Yes, Some(inodes)) = (self.inodes, usage.inodes) {
            if self.inodes_chart.is_none() {
                let def = self
                    .chart(
                        "disk_inodes",
                        "disk.inodes",
                        "Disk Files (inodes) Usage",
                        "inodes",
                    )
                    .priority(INODES_PRIORITY)
                    .update_every(update_every);
                self.inodes_chart = Some(ChartHandle::create(host, def, &INODES_DIMS));
            }
            if let Some(chart) = &mut self.inodes_chart {
                chart.update(cycle, &inodes.map(as_collected));
                rendered = true;
            }
        }

        if rendered {
            self.collected = true;
        }
    }
}

/// Collects disk space and inodes of mounted filesystems.
pub struct DiskspaceCollector {
    root: std::path::PathBuf,
    mountinfo: SourceFile,
    update_every: u32,
    check_every_ut: u64,
    next_check_ut: u64,
    /// The mount list last parsed, to skip parsing an unchanged one.
    last_mountinfo: Vec<u8>,
    excluded_paths: SimplePattern,
    excluded_filesystems: SimplePattern,
    /// By mount point, in mount list order.
    mount_points: Vec<MountPoint>,
    index: HashMap<String, usize>,
    refused: RefusedRounds,
}

impl DiskspaceCollector {
    pub fn new(root: &Path, update_every: u32) -> DiskspaceCollector {
        let update_every = update_every.max(1);
        DiskspaceCollector {
            root: root.to_path_buf(),
            mountinfo: SourceFile::new(root, "/proc/self/mountinfo"),
            update_every,
            check_every_ut: u64::from(update_every.max(MOUNT_CHECK_EVERY)) * 1_000_000,
            next_check_ut: 0,
            last_mountinfo: Vec::new(),
            excluded_paths: SimplePattern::new(EXCLUDED_PATHS),
            excluded_filesystems: SimplePattern::new(EXCLUDED_FILESYSTEMS),
            mount_points: Vec::new(),
            index: HashMap::new(),
            refused: RefusedRounds::default(),
        }
    }

    /// With `exclude space metrics on paths` and `exclude space metrics on
    /// filesystems` set (netdata simple patterns).
    pub fn excluding(mut self, paths: &str, filesystems: &str) -> DiskspaceCollector {
        self.excluded_paths = SimplePattern::new(paths);
        self.excluded_filesystems = SimplePattern::new(filesystems);
        self
    }

    /// Whether netdata's default settings chart this mount at all.
    fn wanted(&self, mount: &Mount) -> bool {
        if mount.is_dummy() {
            return false;
        }
        let protected_copy = mount.read_only
            && SYSTEMD_PROTECTED.contains(&mount.mount_point.as_str())
            && mount.root == mount.mount_point;
        !protected_copy
    }

    fn new_mount_point(&self, mount: Mount) -> Option<MountPoint> {
        let host_mount_point = host_path(&self.root, &mount.mount_point);
        let path = CString::new(host_mount_point.as_os_str().as_bytes()).ok()?;
        let mut enabled = !self.excluded_paths.matches(&mount.mount_point)
            && !self.excluded_filesystems.matches(&mount.filesystem);
        if enabled && !host_mount_point.is_dir() {
            tracing::debug!(mount_point = %mount.mount_point, "not a directory; no disk space charts");
            enabled = false;
        }
        let switch = if enabled { Switch::Auto } else { Switch::No };
        Some(MountPoint {
            mount,
            path,
            space: switch,
            inodes: switch,
            collected: false,
            listed: true,
            statvfs_trouble: Trouble::default(),
            space_chart: None,
            inodes_chart: None,
        })
    }

    /// Takes in a new mount list: new mount points are added, gone ones
    /// have their charts marked obsolete and are forgotten.
    fn apply_mount_list(&mut self, mounts: Vec<Mount>) {
        for mount_point in &mut self.mount_points {
            mount_point.listed = false;
        }
        for mount in mounts {
            if !self.wanted(&mount) {
                continue;
            }
            match self.index.get(&mount.mount_point) {
                Some(&i) => {
                    let known = &mut self.mount_points[i];
                    known.listed = true;
                    known.mount = mount;
                }
                None => {
                    if let Some(mount_point) = self.new_mount_point(mount) {
                        self.index.insert(
                            mount_point.mount.mount_point.clone(),
                            self.mount_points.len(),
                        );
                        self.mount_points.push(mount_point);
                    }
                }
            }
        }
        self.mount_points.retain_mut(|mount_point| {
            if !mount_point.listed {
                mount_point.mark_obsolete();
            }
            mount_point.listed
        });
        self.reindex();
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, mount_point) in self.mount_points.iter().enumerate() {
            self.index.insert(mount_point.mount.mount_point.clone(), i);
        }
    }

    fn mark_all_obsolete(&mut self) {
        for mount_point in &mut self.mount_points {
            mount_point.mark_obsolete();
        }
    }
}

impl Collector for DiskspaceCollector {
    fn name(&self) -> &str {
        "diskspace"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        if now_ut >= self.next_check_ut || self.mountinfo.is_failing() {
            self.next_check_ut = (now_ut / self.check_every_ut + 1) * self.check_every_ut;
            match self.mountinfo.read() {
                None => {
                    self.mark_all_obsolete();
                    self.last_mountinfo.clear();
                    return Ok(());
                }
                Some(data) if data != self.last_mountinfo.as_slice() => {
                    self.last_mountinfo.clear();
                    self.last_mountinfo.extend_from_slice(data);
                    let mounts = parse_mountinfo(&self.last_mountinfo);
                    self.apply_mount_list(mounts);
                }
                Some(_) => {}
            }
        }

        let mut cycle = Cycle::new(now_ut);
        for mount_point in &mut self.mount_points {
            mount_point.collect(host, self.update_every, &mut cycle);
        }
        self.refused.settle("diskspace", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statvfs_of(
        blocks: u64,
        free: u64,
        avail: u64,
        files: u64,
        ffree: u64,
        favail: u64,
    ) -> StatVfs {
        StatVfs {
            f_bsize: 4096,
            f_frsize: 4096,
            f_blocks: blocks,
            f_bfree: free,
            f_bavail: avail,
            f_files: files,
            f_ffree: ffree,
            f_favail: favail,
        }
    }

    #[test]
    fn usage_split_follows_netdata() {
        let u = Usage::from_statvfs(&statvfs_of(1000, 300, 250, 100, 60, 60));
        assert_eq!(u.block_size, 4096);
        assert_eq!(
            (u.blocks_avail, u.blocks_used, u.blocks_reserved),
            (250, 700, 50)
        );
        assert_eq!(u.inodes, Some([60, 40, 0]));
        let no_inodes = Usage::from_statvfs(&statvfs_of(10, 5, 5, 0, 0, u64::MAX));
        assert_eq!(no_inodes.inodes, None);
    }

    #[test]
    fn default_exclusions() {
        let paths = SimplePattern::new(EXCLUDED_PATHS);
        assert!(paths.matches("/sys/fs/cgroup"));
        assert!(paths.matches("/run/user/1000"));
        assert!(!paths.matches("/"));
        assert!(!paths.matches("/dev/shm"));
        let filesystems = SimplePattern::new(EXCLUDED_FILESYSTEMS);
        assert!(filesystems.matches("gvfs"));
        assert!(filesystems.matches("fuse.sshfs"));
        assert!(filesystems.matches("autofs"));
        assert!(!filesystems.matches("ext4"));
        assert!(!filesystems.matches("tmpfs"));
    }
}
