//! Byte-level parsing of kernel text files: lines, whitespace-separated
//! words and numbers, without allocating. Anything odd (a non-digit, an
//! overflow, a missing word) comes back as `None`, never as a panic.

/// The lines of `data`, without their `\n`.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
}

/// The words of `line`, separated by runs of spaces and tabs (and any other
/// ASCII whitespace).
pub(crate) fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

/// A decimal unsigned integer made only of digits.
pub(crate) fn parse_u64(word: &[u8]) -> Option<u64> {
    if word.is_empty() || word.len() > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in word {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

/// A decimal unsigned integer that fits a collected value (`i64`).
pub(crate) fn parse_i64(word: &[u8]) -> Option<i64> {
    parse_u64(word).and_then(|v| i64::try_from(v).ok())
}

/// A decimal number with an optional fraction, such as `0.52` or `839.16`.
pub(crate) fn parse_f64(word: &[u8]) -> Option<f64> {
    if word.is_empty() || !word.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    let value: f64 = std::str::from_utf8(word).ok()?.parse().ok()?;
    value.is_finite().then_some(value)
}

/// `value × 1000`, truncated toward zero as netdata's C cast does (the
/// collected form of a load average or an uptime in milliseconds).
pub(crate) fn thousandths(value: f64) -> Option<i64> {
    let scaled = value * 1000.0;
    (scaled.is_finite() && scaled.abs() < 9.0e18).then_some(scaled as i64)
}

/// `text` made fit for a netdata chart id: ASCII letters lowercased,
/// digits, `-` and `.` kept, `,` turned into `.`, any other byte into `_`
/// (netdata's chart-id character map, used for mount points and disk names).
pub(crate) fn netdata_chart_id(text: &str) -> String {
    netdata_chart_map(text, false)
}

/// `text` made fit for a netdata chart name: as [`netdata_chart_id`], but
/// `/` kept and `\` turned into `/` (netdata's chart-name map, used for
/// cgroup titles).
pub(crate) fn netdata_chart_name(text: &str) -> String {
    netdata_chart_map(text, true)
}

fn netdata_chart_map(text: &str, keep_slashes: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' => char::from(b.to_ascii_lowercase()),
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => char::from(b),
            b',' => '.',
            b'/' | b'\\' if keep_slashes => '/',
            _ => '_',
        })
        .collect()
}

/// Decodes the `\NNN` octal escapes the kernel writes for spaces and other
/// special bytes in mount points (`/mnt/my\040disk`).
pub(crate) fn decode_octal_escapes(word: &[u8]) -> String {
    let mut out = Vec::with_capacity(word.len());
    let mut i = 0;
    while i < word.len() {
        let b = word[i];
        if b == b'\\'
            && i + 3 < word.len()
            && word[i + 1..i + 4].iter().all(|d| (b'0'..=b'7').contains(d))
        {
            let value = word[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            out.push(value as u8);
            i += 4;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_skip_runs_of_blanks() {
        let w: Vec<&[u8]> = words(b"  cpu0 \t1  2\r").collect();
        assert_eq!(w, vec![&b"cpu0"[..], b"1", b"2"]);
        assert_eq!(words(b"   ").count(), 0);
    }

    #[test]
    fn integers_are_strict() {
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_i64(b"18446744073709551615"), None);
        assert_eq!(parse_i64(b"42"), Some(42));
    }

    #[test]
    fn decimals_and_thousandths() {
        assert_eq!(parse_f64(b"0.52"), Some(0.52));
        assert_eq!(parse_f64(b"839.16"), Some(839.16));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"1e5"), None);
        assert_eq!(parse_f64(b"1..2"), None);
        assert_eq!(thousandths(0.52), Some(520));
        assert_eq!(thousandths(678.26), Some(678_260));
        assert_eq!(thousandths(1.15), Some(1150));
    }

    #[test]
    fn chart_ids_follow_netdata_map() {
        assert_eq!(netdata_chart_id("/"), "_");
        assert_eq!(netdata_chart_id("/dev/shm"), "_dev_shm");
        assert_eq!(netdata_chart_id("/mnt/My Disk,2"), "_mnt_my_disk.2");
        assert_eq!(netdata_chart_id("/média"), "_m__dia");
    }

    #[test]
    fn octal_escapes_decode() {
        assert_eq!(decode_octal_escapes(br"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(decode_octal_escapes(br"/a\\b"), r"/a\\b");
        assert_eq!(decode_octal_escapes(br"/end\04"), r"/end\04");
        assert_eq!(decode_octal_escapes(br"\134"), r"\");
    }
}
