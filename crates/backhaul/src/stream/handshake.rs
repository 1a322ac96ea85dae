//! The `STREAM` request of a netdata child and the parent's answer.
//!
//! A child opens the parent's web port and sends
//! `STREAM key=K&hostname=H&machine_guid=G&update_every=N&ver=V&... HTTP/1.1`.
//! [`StreamRequest::parse`] reads the target's `name=value` pairs (values
//! percent-decoded; netdata's child sends them raw, spaces included).
//!
//! `ver` is either an old protocol version (1 to 5) or, from netdata 1.37,
//! a set of capability bits with [`CAP_VCAPS`] set. The parent answers
//! with the capabilities both sides have ([`negotiate`]), as a bare line
//! without a newline and without an HTTP status line:
//! `Hit me baby, push them over with the version=N`. Refusals are ordinary
//! HTTP responses with netdata's texts ([`REFUSED_NOT_PERMITTED`], ...).

use std::fmt;

/// Protocol version 1 (charts and values).
pub const CAP_V1: u32 = 1 << 3;
/// Version 2 (host labels).
pub const CAP_V2: u32 = 1 << 4;
/// Versions 3 to 5, negotiated as a number.
pub const CAP_VN: u32 = 1 << 5;
/// Capabilities negotiated as bits (netdata 1.37 on).
pub const CAP_VCAPS: u32 = 1 << 6;
/// Host labels (`LABEL`, `OVERWRITE`).
pub const CAP_HLABELS: u32 = 1 << 7;
/// `CLAIMED_ID`.
pub const CAP_CLAIM: u32 = 1 << 8;
/// Chart labels (`CLABEL`, `CLABEL_COMMIT`).
pub const CAP_CLABELS: u32 = 1 << 9;
/// LZ4 compression (see `wire::stream_compression`).
pub const CAP_COMPRESSION: u32 = 1 << 10;
/// Functions (declined by backhaul).
pub const CAP_FUNCTIONS: u32 = 1 << 11;
/// Replication (`REPLAY_CHART`, `RBEGIN` ... `REND`).
pub const CAP_REPLICATION: u32 = 1 << 12;
/// Binary values (declined by backhaul).
pub const CAP_BINARY: u32 = 1 << 13;

/// What backhaul's receiver implements (compression only when the API
/// key's `enable compression` allows it).
pub const OUR_CAPABILITIES: u32 = CAP_V1
    | CAP_V2
    | CAP_VN
    | CAP_VCAPS
    | CAP_HLABELS
    | CAP_CLAIM
    | CAP_CLABELS
    | CAP_COMPRESSION
    | CAP_REPLICATION;

/// The answer's fixed part for versions 3 and later.
pub const ANSWER_PREFIX: &str = "Hit me baby, push them over with the version=";
/// The answer to a version 1 child.
pub const ANSWER_V1: &str = "Hit me baby, push them over...";
/// The answer to a version 2 child.
pub const ANSWER_V2: &str = "Hit me baby, push them over and bring the host labels...";

/// netdata's 401 text for a refused key, GUID or address.
pub const REFUSED_NOT_PERMITTED: &str =
    "You are not permitted to access this. Check the logs for more info.";
/// netdata's 401 text for a child with this agent's own machine GUID.
pub const REFUSED_SAME_LOCALHOST: &str =
    "Don't hit me baby, you are trying to stream my localhost back";
/// netdata's 409 text for a GUID already streaming.
pub const REFUSED_ALREADY_STREAMING: &str = "This GUID is already streaming to this server";
/// netdata's 503 text when the rate limit refuses.
pub const REFUSED_BUSY: &str = "The server is too busy now to accept this request. Try later.";

/// Why a `STREAM` request is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// A required field is missing or empty.
    #[error("STREAM request without {0}")]
    Missing(&'static str),
    /// A field that must be a UUID is not one.
    #[error("STREAM request with {field} '{value}', which is not a UUID")]
    NotUuid {
        /// `key` or `machine_guid`.
        field: &'static str,
        /// What was sent (cut to 64 bytes).
        value: String,
    },
}

/// The fields of a `STREAM` request backhaul uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// `key`: the API key.
    pub key: String,
    /// `hostname`.
    pub hostname: String,
    /// `machine_guid`, lower-cased.
    pub machine_guid: String,
    /// `update_every` (default 1).
    pub update_every: u32,
    /// `ver` (default 1: a child that says nothing speaks version 1).
    pub version: u32,
    /// `hops`: how many agents away the child's collector is (default 1,
    /// a child collecting its own host).
    pub hops: u32,
    /// `tags`, `os`, `timezone`, the `NETDATA_*` system facts and the rest,
    /// in order.
    pub other: Vec<(String, String)>,
}

impl StreamRequest {
    /// Reads the request target (`key=...&hostname=...`, an optional
    /// leading `/` or `?` ignored).
    pub fn parse(target: &[u8]) -> Result<StreamRequest, HandshakeError> {
        let target = target.strip_prefix(b"/").unwrap_or(target);
        let target = target.strip_prefix(b"?").unwrap_or(target);
        let mut key = None;
        let mut hostname = None;
        let mut machine_guid = None;
        let mut update_every = 1;
        let mut version = 1;
        let mut hops = 1;
        let mut other = Vec::new();
        for pair in target.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &[][..]),
            };
            let name = String::from_utf8_lossy(&percent_decode(name)).into_owned();
            let value = String::from_utf8_lossy(&percent_decode(value)).into_owned();
            match name.as_str() {
                "key" => key = Some(value),
                "hostname" => hostname = Some(value),
                "machine_guid" => machine_guid = Some(value),
                "update_every" => {
                    update_every = value.parse::<u32>().ok().filter(|&n| n > 0).unwrap_or(1)
                }
                "ver" => version = value.parse::<u32>().unwrap_or(1),
                "hops" => hops = value.parse::<u32>().ok().filter(|&n| n > 0).unwrap_or(1),
                _ => other.push((name, value)),
            }
        }
        let key = key
            .filter(|k| !k.is_empty())
            .ok_or(HandshakeError::Missing("an API key"))?;
        let hostname = hostname
            .filter(|h| !h.is_empty())
            .ok_or(HandshakeError::Missing("a hostname"))?;
        let machine_guid = machine_guid
            .filter(|g| !g.is_empty())
            .ok_or(HandshakeError::Missing("a machine GUID"))?;
        let not_uuid = |field, value: &str| HandshakeError::NotUuid {
            field,
            value: value.chars().take(64).collect(),
        };
        if !crate::config::is_uuid(&key) {
            return Err(not_uuid("key", &key));
        }
        if !crate::config::is_uuid(&machine_guid) {
            return Err(not_uuid("machine_guid", &machine_guid));
        }
        Ok(StreamRequest {
            key,
            hostname,
            machine_guid: machine_guid.to_ascii_lowercase(),
            update_every,
            version,
            hops,
            other,
        })
    }

    /// The value of another field (`tags`, `NETDATA_SYSTEM_OS_NAME`, ...).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.other
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `%XX` sequences decoded; `+` stays (netdata does not turn it into a
/// space).
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The capabilities an old protocol version number stands for.
pub fn capabilities_of_version(version: u32) -> u32 {
    if version & CAP_VCAPS != 0 {
        return version;
    }
    match version {
        0 | 1 => CAP_V1,
        2 => CAP_V2 | CAP_HLABELS,
        3 => CAP_VN | CAP_HLABELS | CAP_CLAIM,
        4 => CAP_VN | CAP_HLABELS | CAP_CLAIM | CAP_CLABELS,
        _ => CAP_VN | CAP_HLABELS | CAP_CLAIM | CAP_CLABELS | CAP_COMPRESSION,
    }
}

/// The outcome of the negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// What both sides will use.
    pub capabilities: u32,
    /// What the answer line says (capability bits, or an old version
    /// number).
    pub version: u32,
}

impl Negotiated {
    /// Whether `capability` was agreed.
    pub fn has(&self, capability: u32) -> bool {
        self.capabilities & capability == capability
    }
}

impl fmt::Display for Negotiated {
    /// The answer line, without a newline (as netdata 1.37 sends it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            1 => f.write_str(ANSWER_V1),
            2 => f.write_str(ANSWER_V2),
            version => write!(f, "{ANSWER_PREFIX}{version}"),
        }
    }
}

/// What to answer a child offering `version`; `compression` is whether the
/// API key allows it. With capability bits the answer is the common bits
/// without the old-version markers (as a 1.37 parent answers); with an old
/// version number, the highest old version both speak.
pub fn negotiate(version: u32, compression: bool) -> Negotiated {
    let ours = if compression {
        OUR_CAPABILITIES
    } else {
        OUR_CAPABILITIES & !CAP_COMPRESSION
    };
    let common = capabilities_of_version(version) & ours;
    if common & CAP_VCAPS != 0 {
        let capabilities = common & !(CAP_V1 | CAP_V2 | CAP_VN);
        return Negotiated {
            capabilities,
            version: capabilities,
        };
    }
    let version = if common & CAP_COMPRESSION != 0 {
        5
    } else if common & CAP_CLABELS != 0 {
        4
    } else if common & CAP_CLAIM != 0 {
        3
    } else if common & CAP_HLABELS != 0 {
        2
    } else {
        1
    };
    Negotiated {
        capabilities: common,
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The target a real 1.37.1 child sent (shortened: the system facts).
    const TARGET: &[u8] = b"key=11111111-2222-3333-4444-555555555555&hostname=child-host&registry_hostname=child-host&machine_guid=705216b4-ec79-11f1-9d5c-02fc00000001&update_every=1&os=linux&timezone=Etc/UTC&tags=&ver=15352&NETDATA_CONTAINER_OS_NAME=Debian GNU/Linux&NETDATA_PROTOCOL_VERSION=1.1";

    #[test]
    fn the_real_childs_request_parses() {
        let request = StreamRequest::parse(TARGET).unwrap();
        assert_eq!(request.key, "11111111-2222-3333-4444-555555555555");
        assert_eq!(request.hostname, "child-host");
        assert_eq!(request.machine_guid, "705216b4-ec79-11f1-9d5c-02fc00000001");
        assert_eq!(request.update_every, 1);
        assert_eq!(request.version, 15352);
        assert_eq!(
            request.field("NETDATA_CONTAINER_OS_NAME"),
            Some("Debian GNU/Linux")
        );
        assert_eq!(request.field("tags"), Some(""));
        assert_eq!(request.hops, 1, "not given: 1");
        let through_a_proxy = format!("{}&hops=2", String::from_utf8_lossy(TARGET));
        assert_eq!(
            StreamRequest::parse(through_a_proxy.as_bytes())
                .unwrap()
                .hops,
            2
        );
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let without = |name: &str| {
            let text = String::from_utf8_lossy(TARGET).into_owned();
            let kept: Vec<&str> = text
                .split('&')
                .filter(|pair| !pair.starts_with(&format!("{name}=")))
                .collect();
            StreamRequest::parse(kept.join("&").as_bytes()).unwrap_err()
        };
        assert_eq!(without("key"), HandshakeError::Missing("an API key"));
        assert_eq!(without("hostname"), HandshakeError::Missing("a hostname"));
        assert_eq!(
            without("machine_guid"),
            HandshakeError::Missing("a machine GUID")
        );
        let bad = StreamRequest::parse(
            b"key=nope&hostname=h&machine_guid=705216b4-ec79-11f1-9d5c-02fc00000001",
        )
        .unwrap_err();
        assert_eq!(
            bad.to_string(),
            "STREAM request with key 'nope', which is not a UUID"
        );
        let bad = StreamRequest::parse(
            b"key=11111111-2222-3333-4444-555555555555&hostname=h&machine_guid=x%20y",
        )
        .unwrap_err();
        assert_eq!(
            bad.to_string(),
            "STREAM request with machine_guid 'x y', which is not a UUID"
        );
        assert_eq!(percent_decode(b"a%2"), b"a%2");
        assert_eq!(percent_decode(b"%41%zz%"), b"A%zz%");
    }

    #[test]
    fn answers_as_the_captured_parent_minus_functions_and_binary() {
        // Uncompressed capture: child 15352; netdata answered 15296, which
        // also kept functions (2048) and binary (8192).
        let answer = negotiate(15352, true);
        assert_eq!(answer.version, 15296 - CAP_FUNCTIONS - CAP_BINARY);
        assert_eq!(
            answer.to_string(),
            format!(
                "Hit me baby, push them over with the version={}",
                15296 - 2048 - 8192
            )
        );
        assert!(!answer.has(CAP_COMPRESSION));
        assert!(answer.has(CAP_REPLICATION));
        // Compressed capture: child 16376; netdata answered 16320.
        let answer = negotiate(16376, true);
        assert_eq!(answer.version, 16320 - CAP_FUNCTIONS - CAP_BINARY);
        assert!(answer.has(CAP_COMPRESSION));
        // The API key switches compression off.
        assert!(!negotiate(16376, false).has(CAP_COMPRESSION));
    }

    #[test]
    fn old_versions_get_old_answers() {
        assert_eq!(negotiate(1, true).to_string(), ANSWER_V1);
        assert_eq!(negotiate(2, true).to_string(), ANSWER_V2);
        assert_eq!(negotiate(4, true).to_string(), format!("{ANSWER_PREFIX}4"));
        assert_eq!(negotiate(5, true).version, 5);
        assert_eq!(negotiate(5, false).version, 4);
        assert!(!negotiate(5, true).has(CAP_REPLICATION));
    }
}
