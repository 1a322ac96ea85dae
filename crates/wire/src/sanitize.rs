//! Name and label sanitizers: what may appear where on the wire.
//!
//! Three layers, applied in this order:
//!
//! 1. **Label ingest** ([`sanitize_label_key`], [`sanitize_label_value`]): the
//!    rules netdata applies when a label enters its label store (`[host labels]`
//!    of `netdata.conf`, plugin labels). Every format then sees the stored form:
//!    `team name = rust port;semi~tilde` is stored as key `team_name`, value
//!    `rust port:semi_tilde`.
//! 2. **Per-format text rules**, applied when a line is rendered:
//!    * metric path parts, chart and dimension ([`write_metric_part`]): bytes
//!      outside `[A-Za-z0-9.]` become `_` (netdata's rule);
//!    * prefix and hostname in graphite and opentsdb
//!      ([`write_prefix_or_hostname`]): bytes outside `[A-Za-z0-9._-]` become
//!      `_` (netdata wrote them verbatim; backhaul's deviation);
//!    * graphite tags ([`write_graphite_tag_key`], [`write_graphite_tag_value`]);
//!    * opentsdb tags ([`write_opentsdb_tag`]);
//!    * JSON strings ([`write_json_escaped`]).
//! 3. The encoders in [`crate::format`] put the pieces together.
//!
//! Every per-format rule maps one input byte to one output byte (except JSON
//! escapes), works on the bytes of the UTF-8 text (`naïve` is 6 bytes, so it
//! becomes `na__ve` in a metric path) and is idempotent. None lets through a
//! byte that could end a line or a field.

/// Builds a byte map: bytes for which the `const fn` says yes map to
/// themselves, the others to `_`.
macro_rules! keep_or_underscore {
    ($keep:path) => {{
        let mut map = [b'_'; 256];
        let mut i = 0;
        while i < 256 {
            let byte = i as u8;
            if $keep(byte) {
                map[i] = byte;
            }
            i += 1;
        }
        map
    }};
}

const fn is_metric_part_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.'
}

const fn is_prefix_or_hostname_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_')
}

/// Graphite tag values: no whitespace or control byte (framing), no `;` (tag
/// separator), no `~` (graphite reserves a leading `~`; netdata replaces all).
const fn is_graphite_tag_value_byte(byte: u8) -> bool {
    !(byte.is_ascii_control() || matches!(byte, b' ' | b';' | b'~'))
}

/// Graphite tag keys: as values, and none of `=`, `!`, `^` (graphite's tag
/// name rule).
const fn is_graphite_tag_key_byte(byte: u8) -> bool {
    is_graphite_tag_value_byte(byte) && !matches!(byte, b'=' | b'!' | b'^')
}

/// OpenTSDB tags: `[A-Za-z0-9-./]` and any byte of a multi-byte UTF-8
/// character (`_` maps to itself).
const fn is_opentsdb_tag_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'/' | b'_') || byte >= 0x80
}

const METRIC_PART_MAP: [u8; 256] = keep_or_underscore!(is_metric_part_byte);
const PREFIX_OR_HOSTNAME_MAP: [u8; 256] = keep_or_underscore!(is_prefix_or_hostname_byte);
const GRAPHITE_TAG_VALUE_MAP: [u8; 256] = keep_or_underscore!(is_graphite_tag_value_byte);
const GRAPHITE_TAG_KEY_MAP: [u8; 256] = keep_or_underscore!(is_graphite_tag_key_byte);
const OPENTSDB_TAG_MAP: [u8; 256] = keep_or_underscore!(is_opentsdb_tag_byte);

#[inline]
fn write_mapped(buf: &mut Vec<u8>, text: &str, map: &[u8; 256]) {
    buf.extend(text.bytes().map(|byte| map[usize::from(byte)]));
}

/// Appends a chart or dimension name as a metric path part: every byte outside
/// `[A-Za-z0-9.]` becomes `_`, case is kept, dots are kept (so a dot adds a
/// graphite path level). Same rule for graphite, opentsdb and the metric
/// names of the JSON format's consumers.
///
/// ```
/// use wire::sanitize::write_metric_part;
///
/// let mut buf = Vec::new();
/// write_metric_part(&mut buf, "lab.Weird Name/with space");
/// assert_eq!(buf, b"lab.Weird_Name_with_space");
/// buf.clear();
/// write_metric_part(&mut buf, "naïve name");
/// assert_eq!(buf, b"na__ve_name");
/// ```
#[inline]
pub fn write_metric_part(buf: &mut Vec<u8>, part: &str) {
    write_mapped(buf, part, &METRIC_PART_MAP);
}

/// [`write_metric_part`] into a new `String`.
///
/// ```
/// assert_eq!(wire::sanitize::sanitize_metric_part("Dim-Upper;semi~tilde"), "Dim_Upper_semi_tilde");
/// ```
pub fn sanitize_metric_part(part: &str) -> String {
    let mut buf = Vec::with_capacity(part.len());
    write_metric_part(&mut buf, part);
    ascii_to_string(buf)
}

/// Appends the configured prefix or a hostname as the head of a graphite or
/// opentsdb metric (and as opentsdb's `host=` tag): every byte outside
/// `[A-Za-z0-9._-]` becomes `_`. Real hostnames and prefixes (`netdata`,
/// `web-01.example.com`) come out unchanged; `lab host.name` becomes
/// `lab_host.name` where netdata sent the space and broke the line.
///
/// ```
/// use wire::sanitize::write_prefix_or_hostname;
///
/// let mut buf = Vec::new();
/// write_prefix_or_hostname(&mut buf, "web-01.example.com");
/// assert_eq!(buf, b"web-01.example.com");
/// buf.clear();
/// write_prefix_or_hostname(&mut buf, "lab host.name");
/// assert_eq!(buf, b"lab_host.name");
/// ```
#[inline]
pub fn write_prefix_or_hostname(buf: &mut Vec<u8>, text: &str) {
    write_mapped(buf, text, &PREFIX_OR_HOSTNAME_MAP);
}

/// [`write_prefix_or_hostname`] into a new `String`.
pub fn sanitize_prefix_or_hostname(text: &str) -> String {
    let mut buf = Vec::with_capacity(text.len());
    write_prefix_or_hostname(&mut buf, text);
    ascii_to_string(buf)
}

/// Appends a graphite tag key (the `k` of `;k=v`): whitespace and control
/// bytes, `;`, `~`, `=`, `!` and `^` become `_`.
///
/// netdata wrote keys as its label store had them; keys sanitized by
/// [`sanitize_label_key`] contain none of these bytes, so they come out
/// unchanged.
#[inline]
pub fn write_graphite_tag_key(buf: &mut Vec<u8>, key: &str) {
    write_mapped(buf, key, &GRAPHITE_TAG_KEY_MAP);
}

/// Appends a graphite tag value (the `v` of `;k=v`): whitespace, `;` and `~`
/// become `_` (netdata's rule), and so do the other control bytes
/// (backhaul's addition; stored label values never hold one). UTF-8 is kept.
///
/// ```
/// use wire::sanitize::write_graphite_tag_value;
///
/// let mut buf = Vec::new();
/// write_graphite_tag_value(&mut buf, "rust port:semi_tilde");
/// assert_eq!(buf, b"rust_port:semi_tilde");
/// ```
#[inline]
pub fn write_graphite_tag_value(buf: &mut Vec<u8>, value: &str) {
    write_mapped(buf, value, &GRAPHITE_TAG_VALUE_MAP);
}

/// Appends an opentsdb tag key or value: only `[A-Za-z0-9-./_]` and the bytes
/// of multi-byte UTF-8 characters are kept, every other byte becomes `_`
/// (netdata's rule for values; backhaul applies it to keys too, which changes
/// nothing for stored label keys).
///
/// ```
/// use wire::sanitize::write_opentsdb_tag;
///
/// let mut buf = Vec::new();
/// write_opentsdb_tag(&mut buf, "rust port:semi_tilde");
/// assert_eq!(buf, b"rust_port_semi_tilde");
/// ```
#[inline]
pub fn write_opentsdb_tag(buf: &mut Vec<u8>, text: &str) {
    write_mapped(buf, text, &OPENTSDB_TAG_MAP);
}

/// What a JSON string byte needs: 0 = copy, otherwise the letter after the
/// backslash (`u` for `\u00XX`).
const JSON_ESCAPES: [u8; 256] = {
    let mut map = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        map[i] = b'u';
        i += 1;
    }
    map[0x08] = b'b';
    map[0x09] = b't';
    map[0x0a] = b'n';
    map[0x0c] = b'f';
    map[0x0d] = b'r';
    map[b'"' as usize] = b'"';
    map[b'\\' as usize] = b'\\';
    map
};

/// Appends `text` escaped as the inside of a JSON string (no quotes): `"` and
/// `\` get a backslash, control characters become `\n`, `\t`, ... or
/// `\u00XX`. Everything else, UTF-8 included, is copied.
///
/// netdata copied names into its JSON lines without escaping (a `"` in a
/// dimension name broke the object); backhaul escapes.
///
/// ```
/// use wire::sanitize::write_json_escaped;
///
/// let mut buf = Vec::new();
/// write_json_escaped(&mut buf, "say \"hi\"\\\n\u{1}é");
/// assert_eq!(String::from_utf8_lossy(&buf), r#"say \"hi\"\\\n\u0001é"#);
/// ```
#[inline]
pub fn write_json_escaped(buf: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escape = JSON_ESCAPES[usize::from(byte)];
        if escape == 0 {
            continue;
        }
        buf.extend_from_slice(&bytes[copied..at]);
        copied = at + 1;
        if escape == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
        } else {
            buf.extend_from_slice(&[b'\\', escape]);
        }
    }
    buf.extend_from_slice(&bytes[copied..]);
}

// ---------------------------------------------------------------------------
// Label ingest: netdata's label store rules.

/// The longest stored label key, in bytes (netdata: 200 with the terminator).
pub const LABEL_KEY_MAX_BYTES: usize = 199;
/// The longest stored label value, in bytes (netdata: 800 with the terminator).
pub const LABEL_VALUE_MAX_BYTES: usize = 799;
/// What an empty label value is stored as.
pub const EMPTY_LABEL_VALUE: &str = "[none]";

/// netdata's label value byte map, for ASCII: letters, digits, space and
/// `( ) + - . / : @ _` are kept; `,` → `.`, `;` and `=` → `:`, `\` → `/`;
/// anything else → `_`.
const LABEL_VALUE_MAP: [u8; 256] = {
    let mut map = [b'_'; 256];
    let mut i = 0;
    while i < 128 {
        let byte = i as u8;
        if byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b' ' | b'(' | b')' | b'+' | b'-' | b'.' | b'/' | b':' | b'@' | b'_'
            )
        {
            map[i] = byte;
        }
        i += 1;
    }
    map[b',' as usize] = b'.';
    map[b';' as usize] = b':';
    map[b'=' as usize] = b':';
    map[b'\\' as usize] = b'/';
    map
};

/// netdata's label key byte map: the value map, with upper case folded to
/// lower case and `= : + ; @ ( )` and space turned into `_`.
const LABEL_KEY_MAP: [u8; 256] = {
    let mut map = LABEL_VALUE_MAP;
    let mut i = b'A';
    while i <= b'Z' {
        map[i as usize] = i.to_ascii_lowercase();
        i += 1;
    }
    let underscored = *b"=:+;@() ";
    let mut j = 0;
    while j < underscored.len() {
        map[underscored[j] as usize] = b'_';
        j += 1;
    }
    map
};

/// netdata's ingest transformation, shared by keys and values.
///
/// * ASCII bytes go through `map`.
/// * Whitespace and control bytes (`<= 0x20`, `0x7f`) count as spaces: leading
///   and trailing ones are dropped, a run inside becomes one byte, the mapped
///   first byte of the run (so a run starting with a space gives a space in
///   values, `_` in keys; one starting with a tab gives `_`).
/// * A multi-byte UTF-8 character is copied (`keep_utf8`) or becomes one `_`.
/// * The result is cut at `max_bytes`, never inside a character.
/// * A result made only of `_` counts as empty.
fn sanitize_label_text(text: &str, map: &[u8; 256], keep_utf8: bool, max_bytes: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_bytes));
    let mut last_was_space = true; // drops leading spaces
    for character in text.chars() {
        if !character.is_ascii() {
            let needed = if keep_utf8 { character.len_utf8() } else { 1 };
            if out.len() + needed > max_bytes {
                break;
            }
            if keep_utf8 {
                out.push(character);
            } else {
                out.push('_');
            }
            last_was_space = false;
            continue;
        }
        if out.len() >= max_bytes {
            break;
        }
        let byte = character as u8;
        if byte <= 0x20 || byte == 0x7f {
            if !last_was_space {
                out.push(char::from(map[usize::from(byte)]));
            }
            last_was_space = true;
        } else {
            out.push(char::from(map[usize::from(byte)]));
            last_was_space = false;
        }
    }
    if last_was_space {
        // the run of spaces at the end emitted one byte: drop it
        out.pop();
    }
    if out.bytes().all(|byte| byte == b'_') {
        out.clear();
    }
    out
}

/// A label key as netdata's label store keeps it, or `None` when netdata
/// rejects the label (the key sanitizes to nothing).
///
/// Lower case letters, digits, `-`, `.`, `/` and `_` are kept; upper case is
/// folded to lower case; `,` → `.`, `\` → `/`; every other ASCII byte and
/// every multi-byte character → `_`; runs of whitespace collapse to one `_`
/// and leading or trailing whitespace is dropped; at most
/// [`LABEL_KEY_MAX_BYTES`] bytes are kept; a key of only `_` is rejected.
///
/// ```
/// use wire::sanitize::sanitize_label_key;
///
/// assert_eq!(sanitize_label_key("team name").as_deref(), Some("team_name"));
/// assert_eq!(sanitize_label_key("  Rack,Row=1 ").as_deref(), Some("rack.row_1"));
/// assert_eq!(sanitize_label_key(" ;; "), None);
/// ```
pub fn sanitize_label_key(key: &str) -> Option<String> {
    let key = sanitize_label_text(key, &LABEL_KEY_MAP, false, LABEL_KEY_MAX_BYTES);
    (!key.is_empty()).then_some(key)
}

/// A label value as netdata's label store keeps it.
///
/// Letters (case kept), digits, space and `( ) + - . / : @ _` are kept;
/// `,` → `.`, `;` and `=` → `:`, `\` → `/`; every other ASCII byte → `_`;
/// UTF-8 characters are kept; runs of whitespace collapse to one space and
/// leading or trailing whitespace is dropped; at most
/// [`LABEL_VALUE_MAX_BYTES`] bytes are kept; a value that is empty or only
/// `_` becomes [`EMPTY_LABEL_VALUE`].
///
/// ```
/// use wire::sanitize::sanitize_label_value;
///
/// assert_eq!(sanitize_label_value("rust port;semi~tilde"), "rust port:semi_tilde");
/// assert_eq!(sanitize_label_value("  a \t b  "), "a b");
/// assert_eq!(sanitize_label_value(""), "[none]");
/// ```
pub fn sanitize_label_value(value: &str) -> String {
    let value = sanitize_label_text(value, &LABEL_VALUE_MAP, true, LABEL_VALUE_MAX_BYTES);
    if value.is_empty() {
        EMPTY_LABEL_VALUE.to_owned()
    } else {
        value
    }
}

/// The per-format maps only produce ASCII or copy whole UTF-8 text, so this
/// never loses anything; a lossy conversion keeps it free of `unwrap`.
fn ascii_to_string(buf: Vec<u8>) -> String {
    match String::from_utf8(buf) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

// ---------------------------------------------------------------------------
// Prometheus (the text format of `/api/v1/allmetrics` and remote write)

const fn is_prometheus_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

const PROMETHEUS_NAME_MAP: [u8; 256] = keep_or_underscore!(is_prometheus_name_byte);

/// Appends a piece of a Prometheus metric or label name (a chart context, a
/// dimension of a heterogeneous chart, a host label key): every byte outside
/// `[A-Za-z0-9]` becomes `_`, one per byte, case kept (netdata's rule; a
/// two-byte character gives two underscores).
///
/// ```
/// let mut buf = Vec::new();
/// wire::sanitize::write_prometheus_name_part(&mut buf, "lab.id with spaces/and:colon");
/// assert_eq!(buf, b"lab_id_with_spaces_and_colon");
/// ```
#[inline]
pub fn write_prometheus_name_part(buf: &mut Vec<u8>, text: &str) {
    write_mapped(buf, text, &PROMETHEUS_NAME_MAP);
}

/// Appends the head of a Prometheus name (the prefix of a metric, or a
/// label name) so that the name is valid: [`write_prometheus_name_part`],
/// after a `_` when the text starts with a digit (Prometheus names cannot;
/// netdata wrote the prefix as given, and label keys starting with a digit
/// as they were).
///
/// ```
/// let mut buf = Vec::new();
/// wire::sanitize::write_prometheus_name_head(&mut buf, "9lives");
/// assert_eq!(buf, b"_9lives");
/// ```
#[inline]
pub fn write_prometheus_name_head(buf: &mut Vec<u8>, text: &str) {
    if text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        buf.push(b'_');
    }
    write_prometheus_name_part(buf, text);
}

/// [`write_prometheus_name_head`] into a new `String`.
pub fn sanitize_prometheus_name_head(text: &str) -> String {
    let mut buf = Vec::with_capacity(text.len() + 1);
    write_prometheus_name_head(&mut buf, text);
    ascii_to_string(buf)
}

const fn is_variable_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'.' || byte == b'_'
}

const VARIABLE_NAME_MAP: [u8; 256] = keep_or_underscore!(is_variable_name_byte);

/// The name of a custom variable (`VARIABLE` of plugins.d and streaming)
/// as netdata stores it: every byte outside `[A-Za-z0-9._]` becomes `_`,
/// one per byte (a two-byte character gives two underscores), case kept.
///
/// ```
/// assert_eq!(wire::sanitize::variable_name("host-var:ï".as_bytes()), "host_var___");
/// ```
pub fn variable_name(raw: &[u8]) -> String {
    let mapped: Vec<u8> = raw
        .iter()
        .map(|&byte| VARIABLE_NAME_MAP[usize::from(byte)])
        .collect();
    ascii_to_string(mapped)
}

/// Appends `text` escaped as a label value of the Prometheus text format
/// (inside the quotes): `\` → `\\`, `"` → `\"`, newline → `\n`. Everything
/// else, UTF-8 included, is copied.
///
/// netdata put a backslash before a newline but kept the newline itself,
/// which ended the line; backhaul writes the two characters `\n`.
///
/// ```
/// let mut buf = Vec::new();
/// wire::sanitize::write_prometheus_label_value(&mut buf, "a \"b\"\\c\nd é");
/// assert_eq!(String::from_utf8_lossy(&buf), r#"a \"b\"\\c\nd é"#);
/// ```
#[inline]
pub fn write_prometheus_label_value(buf: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[copied..at]);
        buf.extend_from_slice(escaped);
        copied = at + 1;
    }
    buf.extend_from_slice(&bytes[copied..]);
}

/// The units netdata renamed in 1.12, newest first, with the name
/// `oldunits=yes` brings back (netdata's table).
pub const PROMETHEUS_OLD_UNITS: &[(&str, &str)] = &[
    ("KiB/s", "kilobytes/s"),
    ("MiB/s", "MB/s"),
    ("GiB/s", "GB/s"),
    ("KiB", "KB"),
    ("MiB", "MB"),
    ("GiB", "GB"),
    ("inodes", "Inodes"),
    ("percentage", "percent"),
    ("faults/s", "page faults/s"),
    ("KiB/operation", "kilobytes per operation"),
    ("milliseconds/operation", "ms per operation"),
];

/// Appends the units part of an `average` metric name, as netdata does:
/// `_` and the units with every byte outside `[A-Za-z0-9]` turned into `_`;
/// units that are exactly `%` become `_percent`, and units of three or more
/// bytes ending in `/s` end in `_persec` instead. With `old_units`, units in
/// [`PROMETHEUS_OLD_UNITS`] are first renamed to their pre-1.12 name.
///
/// ```
/// use wire::sanitize::write_prometheus_units;
///
/// let units = |text: &str, old: bool| {
///     let mut buf = Vec::new();
///     write_prometheus_units(&mut buf, text, old);
///     String::from_utf8(buf).unwrap()
/// };
/// assert_eq!(units("microseconds lost/s", false), "_microseconds_lost_persec");
/// assert_eq!(units("%", false), "_percent");
/// assert_eq!(units("KiB/s", true), "_kilobytes_persec");
/// assert_eq!(units("percentage", true), "_percent");
/// assert_eq!(units("/s", false), "__s");
/// assert_eq!(units("", false), "_");
/// ```
pub fn write_prometheus_units(buf: &mut Vec<u8>, units: &str, old_units: bool) {
    let units = if old_units {
        PROMETHEUS_OLD_UNITS
            .iter()
            .find(|(new, _)| *new == units)
            .map_or(units, |(_, old)| *old)
    } else {
        units
    };
    buf.push(b'_');
    if units == "%" {
        buf.extend_from_slice(b"percent");
    } else if units.len() >= 3 && units.ends_with("/s") {
        write_prometheus_name_part(buf, &units[..units.len() - 2]);
        buf.extend_from_slice(b"_persec");
    } else {
        write_prometheus_name_part(buf, units);
    }
}

/// Appends `text` for a one-line comment (`# COMMENT ...` of the
/// Prometheus text format, `# chart: ...` of the shell format): control
/// bytes become spaces, so the comment cannot end early. Everything else is
/// copied.
#[inline]
pub fn write_comment_text(buf: &mut Vec<u8>, text: &str) {
    buf.extend(
        text.bytes()
            .map(|byte| if byte.is_ascii_control() { b' ' } else { byte }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mapped(write: fn(&mut Vec<u8>, &str), text: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        write(&mut buf, text);
        buf
    }

    fn mapped_string(write: fn(&mut Vec<u8>, &str), text: &str) -> String {
        String::from_utf8(mapped(write, text)).expect("valid UTF-8")
    }

    #[test]
    fn metric_parts_from_the_samples() {
        // graphite_sample.txt / opentsdb_sample.txt
        for (raw, wire) in [
            ("lab.Weird Name/with space", "lab.Weird_Name_with_space"),
            (
                "lab.id with spaces/and:colon",
                "lab.id_with_spaces_and_colon",
            ),
            ("dim name/with slash", "dim_name_with_slash"),
            ("Dim-Upper;semi~tilde", "Dim_Upper_semi_tilde"),
            ("naïve name", "na__ve_name"),
            ("na__ve name", "na__ve_name"),
            ("a b", "a_b"),
            ("dim.with.dots", "dim.with.dots"),
            ("UPPER-case", "UPPER_case"),
            ("température", "temp__rature"),
        ] {
            assert_eq!(sanitize_metric_part(raw), wire);
        }
    }

    #[test]
    fn label_ingest_from_the_samples() {
        // netdata.conf.lab [host labels] -> info.json host_labels
        assert_eq!(
            sanitize_label_key("team name").as_deref(),
            Some("team_name")
        );
        assert_eq!(
            sanitize_label_value("rust port;semi~tilde"),
            "rust port:semi_tilde"
        );
        assert_eq!(sanitize_label_key("env").as_deref(), Some("env"));
        assert_eq!(sanitize_label_value("lab"), "lab");
        assert_eq!(
            sanitize_label_key("_is_ephemeral").as_deref(),
            Some("_is_ephemeral")
        );
    }

    #[test]
    fn label_ingest_rules() {
        assert_eq!(
            sanitize_label_key("Naïve Key").as_deref(),
            Some("na_ve_key")
        );
        assert_eq!(sanitize_label_key("a\\b,c").as_deref(), Some("a/b.c"));
        assert_eq!(sanitize_label_key("___"), None);
        assert_eq!(sanitize_label_key(""), None);
        assert_eq!(sanitize_label_value("naïve=1,5\\x"), "naïve:1.5/x");
        assert_eq!(sanitize_label_value("a\t b"), "a_b"); // run starts with a tab
        assert_eq!(sanitize_label_value("a \tb"), "a b");
        assert_eq!(sanitize_label_value("\"quoted\""), "_quoted_");
        assert_eq!(sanitize_label_value("line\nbreak\r\n"), "line_break");
        assert_eq!(sanitize_label_value("__"), "[none]");
        assert_eq!(
            sanitize_label_value(&"x".repeat(900)).len(),
            LABEL_VALUE_MAX_BYTES
        );
        assert_eq!(
            sanitize_label_key(&"K".repeat(300)).map(|key| key.len()),
            Some(LABEL_KEY_MAX_BYTES)
        );
        // never cut inside a character
        let value = sanitize_label_value(&"é".repeat(500));
        assert_eq!(value.len(), 798);
    }

    #[test]
    fn graphite_and_opentsdb_tags_from_the_samples() {
        let stored = "rust port:semi_tilde";
        assert_eq!(
            mapped(write_graphite_tag_value, stored),
            b"rust_port:semi_tilde"
        );
        assert_eq!(mapped(write_opentsdb_tag, stored), b"rust_port_semi_tilde");
        assert_eq!(mapped(write_graphite_tag_key, "team_name"), b"team_name");
        assert_eq!(
            mapped(write_opentsdb_tag, "_is_ephemeral"),
            b"_is_ephemeral"
        );
    }

    #[test]
    fn hostile_tags() {
        assert_eq!(
            mapped(write_graphite_tag_key, "a=b;c~d e\nf!g^h"),
            b"a_b_c_d_e_f_g_h"
        );
        assert_eq!(
            mapped(write_graphite_tag_value, "a=b;c~d e\nf\0g"),
            b"a=b_c_d_e_f_g"
        );
        assert_eq!(mapped_string(write_opentsdb_tag, "a=b c\né/x"), "a_b_c_é/x");
    }

    #[test]
    fn prometheus_names_from_the_samples() {
        // samples/allmetrics/*: contexts and units as netdata served them.
        for (raw, wire) in [
            ("lab.ctx", "lab_ctx"),
            (
                "lab.id with spaces/and:colon",
                "lab_id_with_spaces_and_colon",
            ),
            ("system.idlejitter", "system_idlejitter"),
            ("naïve", "na__ve"),
        ] {
            assert_eq!(mapped_string(write_prometheus_name_part, raw), wire);
        }
        for (units, old, wire) in [
            ("units", false, "_units"),
            ("microseconds lost/s", false, "_microseconds_lost_persec"),
            ("milliseconds/s", false, "_milliseconds_persec"),
            ("milliseconds/request", false, "_milliseconds_request"),
            ("kilobits/s", false, "_kilobits_persec"),
            ("a/s", false, "_a_persec"),
            ("%", false, "_percent"),
            ("%%", false, "___"),
            ("percentage", false, "_percentage"),
            ("percentage", true, "_percent"),
            ("MiB", true, "_MB"),
            ("faults/s", true, "_page_faults_persec"),
            ("KiB/operation", true, "_kilobytes_per_operation"),
            ("units", true, "_units"),
        ] {
            let mut buf = Vec::new();
            write_prometheus_units(&mut buf, units, old);
            assert_eq!(String::from_utf8_lossy(&buf), wire, "{units} old={old}");
        }
        assert_eq!(sanitize_prometheus_name_head("netdata"), "netdata");
        assert_eq!(sanitize_prometheus_name_head("2fa key"), "_2fa_key");
        assert_eq!(sanitize_prometheus_name_head(""), "");
    }

    /// Text with everything that could break a line or a field.
    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,40}",
            "[ \\t\\r\\n;=~\"\\\\.,:/@()!^a-zA-Z0-9_-]{0,40}",
            "[a-zé€😀 ;\\n]{0,300}",
        ]
    }

    fn is_idempotent(write: fn(&mut Vec<u8>, &str), text: &str) -> bool {
        let once = mapped_string(write, text);
        mapped_string(write, &once) == once
    }

    proptest! {
        #[test]
        fn variable_names_keep_only_their_alphabet(raw in prop::collection::vec(any::<u8>(), 0..60)) {
            let name = variable_name(&raw);
            prop_assert_eq!(name.len(), raw.len());
            prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'));
            prop_assert_eq!(variable_name(name.as_bytes()), name.clone());
            for (&before, after) in raw.iter().zip(name.bytes()) {
                prop_assert!(after == before || after == b'_');
            }
        }

        #[test]
        fn metric_part_keeps_only_its_alphabet(text in hostile_text()) {
            let out = mapped(write_metric_part, &text);
            prop_assert_eq!(out.len(), text.len());
            prop_assert!(out.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'));
            prop_assert!(is_idempotent(write_metric_part, &text));
        }

        #[test]
        fn prefix_or_hostname_keeps_only_its_alphabet(text in hostile_text()) {
            let out = mapped(write_prefix_or_hostname, &text);
            prop_assert_eq!(out.len(), text.len());
            prop_assert!(out.iter().all(|&b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            prop_assert!(is_idempotent(write_prefix_or_hostname, &text));
        }

        #[test]
        fn graphite_tags_cannot_split(text in hostile_text()) {
            let key = mapped(write_graphite_tag_key, &text);
            let value = mapped(write_graphite_tag_value, &text);
            prop_assert_eq!(key.len(), text.len());
            prop_assert_eq!(value.len(), text.len());
            prop_assert!(value.iter().all(|&b| !b.is_ascii_control() && !b" ;~".contains(&b)));
            prop_assert!(key.iter().all(|&b| !b.is_ascii_control() && !b" ;~=!^".contains(&b)));
            prop_assert!(is_idempotent(write_graphite_tag_key, &text));
            prop_assert!(is_idempotent(write_graphite_tag_value, &text));
        }

        #[test]
        fn opentsdb_tags_keep_only_their_alphabet(text in hostile_text()) {
            let out = mapped(write_opentsdb_tag, &text);
            prop_assert_eq!(out.len(), text.len());
            prop_assert!(out.iter().all(|&b| b.is_ascii_alphanumeric() || b"-./_".contains(&b) || b >= 0x80));
            prop_assert!(is_idempotent(write_opentsdb_tag, &text));
        }

        #[test]
        fn json_escaping_round_trips(text in hostile_text()) {
            let mut json = vec![b'"'];
            write_json_escaped(&mut json, &text);
            json.push(b'"');
            prop_assert!(!json.contains(&b'\n'));
            let parsed: String = serde_json::from_slice(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parsed, text);
        }

        #[test]
        fn prometheus_names_are_valid(text in hostile_text()) {
            let part = mapped(write_prometheus_name_part, &text);
            prop_assert_eq!(part.len(), text.len());
            prop_assert!(part.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_'));
            prop_assert!(is_idempotent(write_prometheus_name_part, &text));
            let head = sanitize_prometheus_name_head(&text);
            prop_assert!(head.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            prop_assert!(!head.as_bytes().first().is_some_and(u8::is_ascii_digit));
            let mut units = Vec::new();
            write_prometheus_units(&mut units, &text, false);
            prop_assert_eq!(units.first(), Some(&b'_'));
            prop_assert!(units.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_'));
        }

        #[test]
        fn prometheus_label_values_round_trip(text in hostile_text()) {
            let escaped = mapped(write_prometheus_label_value, &text);
            prop_assert!(!escaped.contains(&b'\n'));
            // Unescape as Prometheus' parser does: every quote is escaped.
            let mut back = Vec::new();
            let mut bytes = escaped.iter();
            while let Some(&b) = bytes.next() {
                match b {
                    b'"' => prop_assert!(false, "unescaped quote"),
                    b'\\' => match bytes.next() {
                        Some(b'\\') => back.push(b'\\'),
                        Some(b'"') => back.push(b'"'),
                        Some(b'n') => back.push(b'\n'),
                        other => prop_assert!(false, "bad escape {:?}", other),
                    },
                    _ => back.push(b),
                }
            }
            prop_assert_eq!(back, text.as_bytes());
        }

        #[test]
        fn comment_text_stays_on_its_line(text in hostile_text()) {
            let out = mapped(write_comment_text, &text);
            prop_assert_eq!(out.len(), text.len());
            prop_assert!(!out.iter().any(u8::is_ascii_control));
        }

        #[test]
        fn label_keys_are_clean_and_stable(text in hostile_text()) {
            if let Some(key) = sanitize_label_key(&text) {
                prop_assert!(key.len() <= LABEL_KEY_MAX_BYTES);
                prop_assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-./_".contains(&b)));
                prop_assert!(!key.bytes().all(|b| b == b'_'));
                prop_assert_eq!(sanitize_label_key(&key), Some(key.clone()));
            }
        }

        #[test]
        fn label_values_are_clean_and_stable(text in hostile_text()) {
            let value = sanitize_label_value(&text);
            prop_assert!(!value.is_empty() && value.len() <= LABEL_VALUE_MAX_BYTES);
            prop_assert!(value.bytes().all(|b| !b.is_ascii_control() && !b"\";=\\,~".contains(&b)));
            prop_assert!(!value.starts_with(' ') && !value.ends_with(' ') && !value.contains("  "));
            if value != EMPTY_LABEL_VALUE {
                prop_assert_eq!(sanitize_label_value(&value), value.clone());
            }
        }
    }
}
