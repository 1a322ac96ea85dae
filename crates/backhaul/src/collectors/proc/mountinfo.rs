//! `/proc/self/mountinfo`: the mounts, as the disk space collector and the
//! disk statistics collector (for a disk's mount point) need them.
//!
//! Follows netdata's reading: the first line for a mount point wins,
//! `\NNN` escapes are decoded, a mount is read-only when its mount or
//! super options hold `ro`, and pseudo filesystems (`proc`, `sysfs`,
//! `devpts`, ... and type `none`) are "dummy".

use super::parse::{decode_octal_escapes, lines, parse_u64, words};

/// Filesystem types netdata (after coreutils) calls dummy: never a disk.
const DUMMY_FILESYSTEMS: &[&str] = &[
    "autofs",
    "proc",
    "subfs",
    "debugfs",
    "devpts",
    "fusectl",
    "mqueue",
    "rpc_pipefs",
    "sysfs",
    "devfs",
    "kernfs",
    "ignore",
    "none",
];

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mount {
    pub major: u32,
    pub minor: u32,
    /// The root of the mount within its filesystem.
    pub root: String,
    pub mount_point: String,
    pub filesystem: String,
    /// The mount source (`/dev/vda`, `tmpfs`, ...).
    pub source: String,
    /// The superblock's options (`rw,memory`: the cgroup controllers).
    pub super_options: String,
    pub read_only: bool,
}

impl Mount {
    /// Whether the comma-separated super options hold exactly `option`.
    pub(crate) fn has_super_option(&self, option: &str) -> bool {
        self.super_options.split(',').any(|o| o == option)
    }
}

impl Mount {
    pub(crate) fn is_dummy(&self) -> bool {
        DUMMY_FILESYSTEMS.contains(&self.filesystem.as_str())
    }

    /// The last path component of the mount source (`vda` for `/dev/vda`).
    pub(crate) fn source_name(&self) -> &str {
        self.source.rsplit('/').next().unwrap_or(&self.source)
    }
}

/// Whether a comma-separated option list holds `ro`.
fn has_read_only(options: &[u8]) -> bool {
    options.split(|&b| b == b',').any(|o| o == b"ro")
}

fn parse_line(line: &[u8]) -> Option<Mount> {
    let mut w = words(line);
    let _id = parse_u64(w.next()?)?;
    let _parent = parse_u64(w.next()?)?;
    let (major, minor) = {
        let dev = w.next()?;
        let colon = dev.iter().position(|&b| b == b':')?;
        (
            u32::try_from(parse_u64(&dev[..colon])?).ok()?,
            u32::try_from(parse_u64(&dev[colon + 1..])?).ok()?,
        )
    };
    let root = decode_octal_escapes(w.next()?);
    let mount_point = decode_octal_escapes(w.next()?);
    let mut read_only = has_read_only(w.next()?);
    // Optional fields up to the `-` separator.
    for field in w.by_ref() {
        if field == b"-" {
            break;
        }
    }
    let filesystem = String::from_utf8_lossy(w.next().unwrap_or(b"")).into_owned();
    let source = decode_octal_escapes(w.next().unwrap_or(b""));
    let super_options = w.next().unwrap_or(b"");
    read_only |= has_read_only(super_options);
    Some(Mount {
        major,
        minor,
        root,
        mount_point,
        filesystem,
        source,
        super_options: String::from_utf8_lossy(super_options).into_owned(),
        read_only,
    })
}

/// The mounts of a mountinfo file, the first line of each mount point
/// only; malformed lines are skipped.
pub(crate) fn parse_mountinfo(data: &[u8]) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for mount in lines(data).filter_map(parse_line) {
        if !mounts.iter().any(|m| m.mount_point == mount.mount_point) {
            mounts.push(mount);
        }
    }
    mounts
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"22 27 0:21 / /proc rw,relatime - proc proc rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12358300k,nr_inodes=3089575,mode=755
25 24 0:23 / /dev/shm rw,relatime shared:5 master:1 - tmpfs tmpfs rw,size=24731708k
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
28 27 0:25 / /mnt/my\\040disk ro,nosuid - tmpfs some\\040thing rw
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw
31 1 8:1 /sub /srv rw - xfs /dev/sda1 ro,attr2
bad line
32 1 x:1 / /x rw - ext4 /dev/x rw
";

    #[test]
    fn parses_netdata_style() {
        let mounts = parse_mountinfo(SAMPLE);
        let points: Vec<&str> = mounts.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(
            points,
            ["/proc", "/dev", "/dev/shm", "/", "/mnt/my disk", "/srv"]
        );
        assert!(mounts[0].is_dummy());
        assert!(!mounts[1].is_dummy());
        assert_eq!(mounts[2].filesystem, "tmpfs");
        assert_eq!(mounts[2].major, 0);
        assert_eq!(mounts[2].minor, 23);
        let root = &mounts[3];
        assert_eq!((root.major, root.minor), (254, 0));
        assert_eq!(root.source_name(), "vda");
        assert!(!root.read_only);
        assert!(mounts[4].read_only);
        assert_eq!(mounts[4].source, "some thing");
        assert!(mounts[5].read_only);
        assert_eq!(mounts[5].root, "/sub");
    }
}
