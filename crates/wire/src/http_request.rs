//! HTTP/1.x request heads, as the web server reads them: where a head ends,
//! its request line and header lines, and the small value parsers the server
//! needs (percent-decoding, `Accept-Encoding`, `Connection` tokens).
//!
//! Bytes in, values out; nothing here reads a socket. A head that has not
//! fully arrived is `Ok(None)` ("incomplete"), not an error, so a caller can
//! append what the next read brings and ask again. [`HeadScanner`] finds the
//! end of a head without scanning the same bytes twice, so a client that
//! sends one byte at a time costs linear, not quadratic, work.
//!
//! The request line is split the way netdata's server splits it: the
//! method is everything up to the first space, the version is what follows
//! the *last* `" HTTP/"`, and the target is everything in between, spaces
//! included. netdata's children send `STREAM key=...&NETDATA_CONTAINER_OS_NAME=Debian
//! GNU/Linux&... HTTP/1.1`, with raw spaces in the target, and that request
//! must parse. Control characters are refused everywhere but in the
//! terminating `\r\n`; a bare `\n` also ends a line.
//!
//! ```
//! use wire::http_request::{parse_head, Version, DEFAULT_MAX_HEAD_LEN};
//!
//! let bytes = b"GET /api/v1/info?x=1 HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\nGET /next";
//! let (head, len) = parse_head(bytes, DEFAULT_MAX_HEAD_LEN).unwrap().unwrap();
//! assert_eq!(head.method, "GET");
//! assert_eq!(head.target, b"/api/v1/info?x=1");
//! assert_eq!(head.version, Version::Http11);
//! assert_eq!(head.header("accept-encoding"), Some(&b"gzip"[..]));
//! assert_eq!(&bytes[len..], b"GET /next");
//! // Not all there yet: incomplete, not an error.
//! assert_eq!(parse_head(&bytes[..20], DEFAULT_MAX_HEAD_LEN), Ok(None));
//! ```

use thiserror::Error;

/// Default longest request head, in bytes, blank line included.
pub const DEFAULT_MAX_HEAD_LEN: usize = 16 * 1024;

/// Most header lines a head may have.
pub const MAX_HEADERS: usize = 100;

/// Longest method name.
pub const MAX_METHOD_LEN: usize = 32;

/// The HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: the connection closes after the response unless the
    /// client asks for `keep-alive`.
    Http10,
    /// `HTTP/1.1`: the connection stays open unless either side says
    /// `close`.
    Http11,
}

impl Version {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// One header line: a token name and its value, without the blanks around
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

/// A parsed request head, borrowing from the bytes it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The method, a token (`GET`, `HEAD`, `STREAM`, ...), as sent.
    pub method: &'a str,
    /// The request target, raw (not decoded); never empty, never with a
    /// control character, may hold spaces (see the module docs).
    pub target: &'a [u8],
    pub version: Version,
    /// The header lines, in order.
    pub headers: Vec<Header<'a>>,
}

/// Why a head cannot be used. Every one of them ends the connection: the
/// server cannot know where the next request would start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HeadError {
    /// No end of head within the limit.
    #[error("request head longer than {limit} bytes")]
    TooLarge { limit: usize },
    /// The first line is not `METHOD TARGET HTTP/x.y`.
    #[error("malformed request line")]
    BadRequestLine,
    /// `HTTP/x.y` other than 1.0 and 1.1.
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// A header line without a name, without a colon, with a control
    /// character, or folded onto the previous one.
    #[error("malformed header line")]
    BadHeader,
    /// More than [`MAX_HEADERS`] header lines.
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
}

/// Finds where a head ends, resuming where the previous call stopped.
///
/// A head ends at the first empty line: `\n\n`, `\n\r\n`. Feed it the same
/// growing buffer each time; [`HeadScanner::reset`] it when the buffer's
/// start moves (after a request was taken off it).
///
/// ```
/// use wire::http_request::HeadScanner;
///
/// let mut scanner = HeadScanner::default();
/// let mut buf = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
/// assert_eq!(scanner.scan(&buf), None);
/// buf.extend_from_slice(b"\r\nrest");
/// assert_eq!(scanner.scan(&buf), Some(buf.len() - 4));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadScanner {
    /// No head end starts before this offset.
    resume: usize,
}

impl HeadScanner {
    /// The length of the head at the start of `buf` (its blank line
    /// included), or `None` while it has not ended.
    pub fn scan(&mut self, buf: &[u8]) -> Option<usize> {
        let mut i = self.resume.min(buf.len());
        while let Some(offset) = buf[i..].iter().position(|&b| b == b'\n') {
            let newline = i + offset;
            match (buf.get(newline + 1), buf.get(newline + 2)) {
                (Some(b'\n'), _) => return Some(newline + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(newline + 3),
                // Not enough bytes to tell: look at this newline again.
                (None, _) | (Some(b'\r'), None) => {
                    self.resume = newline;
                    return None;
                }
                _ => i = newline + 1,
            }
        }
        self.resume = buf.len();
        None
    }

    /// Starts over (the buffer now starts somewhere else).
    pub fn reset(&mut self) {
        self.resume = 0;
    }
}

/// The length of the head at the start of `buf`, if it is complete.
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    HeadScanner::default().scan(buf)
}

/// Parses the head at the start of `buf`: `Ok(None)` while it is
/// incomplete and within `max_len`, else the head and its length in bytes
/// (what follows belongs to the next request).
pub fn parse_head(
    buf: &[u8],
    max_len: usize,
) -> Result<Option<(RequestHead<'_>, usize)>, HeadError> {
    match find_head_end(buf) {
        None if buf.len() > max_len => Err(HeadError::TooLarge { limit: max_len }),
        None => Ok(None),
        Some(len) if len > max_len => Err(HeadError::TooLarge { limit: max_len }),
        Some(len) => parse_complete_head(&buf[..len]).map(|head| Some((head, len))),
    }
}

/// Parses a complete head (as delimited by [`HeadScanner`]; what follows
/// its blank line is ignored).
pub fn parse_complete_head(head: &[u8]) -> Result<RequestHead<'_>, HeadError> {
    let mut lines = Lines { rest: head };
    // Empty lines before the request line are ignored (RFC 9112 2.2).
    let request_line = loop {
        match lines.next() {
            None => return Err(HeadError::BadRequestLine),
            Some([]) => continue,
            Some(line) => break line,
        }
    };
    let (method, target, version) = parse_request_line(request_line)?;
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(HeadError::TooManyHeaders);
        }
        headers.push(parse_header_line(line)?);
    }
    Ok(RequestHead {
        method,
        target,
        version,
        headers,
    })
}

/// Lines of a head, without their `\n` or `\r\n`.
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(n) => (&self.rest[..n], &self.rest[n + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// An RFC 9110 token character.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

fn parse_request_line(line: &[u8]) -> Result<(&str, &[u8], Version), HeadError> {
    let space = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(HeadError::BadRequestLine)?;
    let method = &line[..space];
    if method.is_empty() || method.len() > MAX_METHOD_LEN || !method.iter().all(|&b| is_tchar(b)) {
        return Err(HeadError::BadRequestLine);
    }
    let rest = &line[space + 1..];
    const MARK: &[u8] = b" HTTP/";
    let mark = rest
        .windows(MARK.len())
        .rposition(|w| w == MARK)
        .ok_or(HeadError::BadRequestLine)?;
    let target = &rest[..mark];
    let version = match &rest[mark + MARK.len()..] {
        b"1.1" => Version::Http11,
        b"1.0" => Version::Http10,
        [major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit() => {
            return Err(HeadError::UnsupportedVersion)
        }
        [major] if major.is_ascii_digit() => return Err(HeadError::UnsupportedVersion),
        _ => return Err(HeadError::BadRequestLine),
    };
    if target.is_empty() || target[0] == b' ' || target.iter().any(|&b| is_control(b)) {
        return Err(HeadError::BadRequestLine);
    }
    // A token is ASCII, so this cannot fail.
    let method = std::str::from_utf8(method).map_err(|_| HeadError::BadRequestLine)?;
    Ok((method, target, version))
}

fn parse_header_line(line: &[u8]) -> Result<Header<'_>, HeadError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(HeadError::BadHeader)?;
    let name = &line[..colon];
    // An empty name, blanks before the colon, or a line starting with a
    // blank (obsolete folding) are all refused.
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(HeadError::BadHeader);
    }
    let value = trim_blanks(&line[colon + 1..]);
    if value.iter().any(|&b| is_control(b) && b != b'\t') {
        return Err(HeadError::BadHeader);
    }
    let name = std::str::from_utf8(name).map_err(|_| HeadError::BadHeader)?;
    Ok(Header { name, value })
}

fn trim_blanks(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

impl<'a> RequestHead<'a> {
    /// The value of the first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Whether the client lets the connection stay open after the response:
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        let connection = |token: &str| {
            self.headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("connection"))
                .any(|h| has_token(h.value, token))
        };
        match self.version {
            Version::Http11 => !connection("close"),
            Version::Http10 => connection("keep-alive") && !connection("close"),
        }
    }

    /// Whether a body follows the head: a `Transfer-Encoding`, or a
    /// `Content-Length` other than 0 (an unreadable one counts as a body).
    pub fn has_body(&self) -> bool {
        let zero = |value: &[u8]| !value.is_empty() && value.iter().all(|&b| b == b'0');
        self.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("transfer-encoding")
                || (h.name.eq_ignore_ascii_case("content-length") && !zero(h.value))
        })
    }

    /// The target split at its first `?`: the path and the query (empty
    /// without a `?`), both raw.
    pub fn path_and_query(&self) -> (&'a [u8], &'a [u8]) {
        split_target(self.target)
    }

    /// Whether the client accepts a gzip-encoded response
    /// (see [`accepts_gzip`]).
    pub fn accepts_gzip(&self) -> bool {
        self.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("accept-encoding"))
            .any(|h| accepts_gzip(h.value))
    }
}

/// `target` split at its first `?`.
pub fn split_target(target: &[u8]) -> (&[u8], &[u8]) {
    match target.iter().position(|&b| b == b'?') {
        Some(q) => (&target[..q], &target[q + 1..]),
        None => (target, &target[target.len()..]),
    }
}

/// Whether a comma-separated header value holds `token` (any case, blanks
/// and parameters after `;` ignored).
pub fn has_token(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|item| {
        let item = item.split(|&b| b == b';').next().unwrap_or_default();
        trim_blanks(item).eq_ignore_ascii_case(token.as_bytes())
    })
}

/// Whether an `Accept-Encoding` value allows gzip: `gzip` (or `x-gzip`)
/// listed with a non-zero quality, or `*` with a non-zero quality and gzip
/// not refused by name.
///
/// ```
/// use wire::http_request::accepts_gzip;
///
/// assert!(accepts_gzip(b"gzip, deflate, br"));
/// assert!(accepts_gzip(b"br;q=1.0, GZIP;q=0.5"));
/// assert!(accepts_gzip(b"*"));
/// assert!(!accepts_gzip(b"gzip;q=0, *"));
/// assert!(!accepts_gzip(b"identity"));
/// assert!(!accepts_gzip(b"gzip;q=0.000"));
/// ```
pub fn accepts_gzip(value: &[u8]) -> bool {
    let mut named = None;
    let mut wildcard = None;
    for item in value.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let coding = trim_blanks(parts.next().unwrap_or_default());
        let allowed = parts.all(|param| {
            let param = trim_blanks(param);
            match param
                .strip_prefix(b"q=")
                .or_else(|| param.strip_prefix(b"Q="))
            {
                Some(q) => quality_is_positive(q),
                None => true,
            }
        });
        if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            named = Some(named.unwrap_or(false) || allowed);
        } else if coding == b"*" {
            wildcard = Some(wildcard.unwrap_or(false) || allowed);
        }
    }
    named.unwrap_or(wildcard.unwrap_or(false))
}

/// Whether a quality value (`1`, `0.5`, `0.000`) is above zero; an
/// unreadable one counts as zero.
fn quality_is_positive(q: &[u8]) -> bool {
    let q = trim_blanks(q);
    match q.split_first() {
        Some((b'1', _)) => true,
        Some((b'0', rest)) => match rest.split_first() {
            None => false,
            Some((b'.', decimals)) => {
                decimals.iter().all(u8::is_ascii_digit) && decimals.iter().any(|&d| d != b'0')
            }
            Some(_) => false,
        },
        _ => false,
    }
}

/// Why [`percent_decode`] refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// `%` not followed by two hexadecimal digits.
    #[error("'%' not followed by two hexadecimal digits")]
    BadEscape,
    /// `%00`: a NUL byte in a path is never legitimate.
    #[error("encoded NUL byte")]
    Nul,
}

/// Decodes `%XX` escapes (a `+` stays a `+`: this is for paths).
///
/// ```
/// use wire::http_request::{percent_decode, DecodeError};
///
/// assert_eq!(percent_decode(b"/a%20b/%2e%2E/c+d").unwrap(), b"/a b/../c+d");
/// assert_eq!(percent_decode(b"/%zz"), Err(DecodeError::BadEscape));
/// assert_eq!(percent_decode(b"/x%00"), Err(DecodeError::Nul));
/// ```
pub fn percent_decode(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let hex = |at: usize| {
            input
                .get(at)
                .and_then(|&c| char::from(c).to_digit(16))
                .ok_or(DecodeError::BadEscape)
        };
        let value = hex(i + 1)? * 16 + hex(i + 2)?;
        if value == 0 {
            return Err(DecodeError::Nul);
        }
        // Two hexadecimal digits make at most 255.
        out.push(u8::try_from(value).map_err(|_| DecodeError::BadEscape)?);
        i += 3;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<(RequestHead<'_>, usize)>, HeadError> {
        parse_head(bytes, DEFAULT_MAX_HEAD_LEN)
    }

    fn head(bytes: &[u8]) -> RequestHead<'_> {
        parse(bytes).expect("valid").expect("complete").0
    }

    #[test]
    fn a_plain_get() {
        let h = head(b"GET / HTTP/1.1\r\nHost: localhost:19999\r\nUser-Agent: curl/7.88\r\n\r\n");
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, b"/");
        assert_eq!(h.version, Version::Http11);
        assert_eq!(h.headers.len(), 2);
        assert_eq!(h.header("HOST"), Some(&b"localhost:19999"[..]));
        assert_eq!(h.header("accept"), None);
        assert!(h.keep_alive());
        assert!(!h.has_body());
    }

    #[test]
    fn bare_newlines_end_lines_and_heads() {
        let h = head(b"HEAD /x HTTP/1.0\nConnection: keep-alive\n\n");
        assert_eq!(h.method, "HEAD");
        assert_eq!(h.version, Version::Http10);
        assert!(h.keep_alive());
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\r\nX"), Some(17));
    }

    #[test]
    fn netdata_stream_request_with_spaces_in_its_target() {
        let line = b"STREAM key=abc&hostname=child&NETDATA_CONTAINER_OS_NAME=Debian GNU/Linux&NETDATA_CONTAINER_OS_VERSION=12 (bookworm)&ver=15352 HTTP/1.1\r\nUser-Agent: netdata/v1.37.1\r\nAccept: */*\r\n\r\n";
        let h = head(line);
        assert_eq!(h.method, "STREAM");
        assert!(h.target.starts_with(b"key=abc&"));
        assert!(h.target.ends_with(b"&ver=15352"));
        assert_eq!(h.header("user-agent"), Some(&b"netdata/v1.37.1"[..]));
    }

    #[test]
    fn incomplete_heads_are_values_not_errors() {
        let full = b"GET /api/v1/info HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(parse(full).unwrap().is_some());
    }

    #[test]
    fn the_limit_counts_the_whole_head() {
        let full = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        assert!(parse_head(full, full.len()).unwrap().is_some());
        assert_eq!(
            parse_head(full, full.len() - 1),
            Err(HeadError::TooLarge {
                limit: full.len() - 1
            })
        );
        let endless = vec![b'a'; 100];
        assert_eq!(
            parse_head(&endless, 99),
            Err(HeadError::TooLarge { limit: 99 })
        );
        assert_eq!(parse_head(&endless, 100), Ok(None));
    }

    #[test]
    fn malformed_request_lines() {
        for bad in [
            &b"\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET /\r\n\r\n",
            b"GET / HTTP/\r\n\r\n",
            b"GET / HTTP/1.1x\r\n\r\n",
            b" / HTTP/1.1\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET  HTTP/1.1\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET /a\x01b HTTP/1.1\r\n\r\n",
            b"GET /a\rb HTTP/1.1\r\n\r\n",
            b"GET / http/1.1\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Err(HeadError::BadRequestLine), "{bad:?}");
        }
        assert_eq!(
            parse(b"GET / HTTP/2.0\r\n\r\n"),
            Err(HeadError::UnsupportedVersion)
        );
        assert_eq!(
            parse(b"GET / HTTP/3\r\n\r\n"),
            Err(HeadError::UnsupportedVersion)
        );
    }

    #[test]
    fn malformed_headers() {
        for bad in [
            &b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\n: empty\r\n\r\n",
            b"GET / HTTP/1.1\r\nName : space\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Err(HeadError::BadHeader), "{bad:?}");
        }
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many), Err(HeadError::TooManyHeaders));
    }

    #[test]
    fn header_values_are_trimmed_and_may_hold_tabs_and_utf8() {
        let h = head("GET / HTTP/1.1\r\nX:  \ta\tb é \t\r\nEmpty:\r\n\r\n".as_bytes());
        assert_eq!(h.header("x"), Some("a\tb é".as_bytes()));
        assert_eq!(h.header("empty"), Some(&b""[..]));
    }

    #[test]
    fn leading_blank_lines_are_skipped() {
        let h = head(b"\r\nGET /a HTTP/1.1\r\n\r\n");
        assert_eq!(h.target, b"/a");
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!head(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive());
        assert!(!head(b"GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").keep_alive());
        assert!(!head(b"GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive());
        assert!(head(b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n").keep_alive());
    }

    #[test]
    fn bodies_are_recognised() {
        assert!(!head(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").has_body());
        assert!(!head(b"GET / HTTP/1.1\r\nContent-Length: 000\r\n\r\n").has_body());
        assert!(head(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").has_body());
        assert!(head(b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n").has_body());
        assert!(head(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").has_body());
    }

    #[test]
    fn path_and_query() {
        let h = head(b"GET /api/v1/allmetrics?format=prometheus&help=yes HTTP/1.1\r\n\r\n");
        assert_eq!(
            h.path_and_query(),
            (
                &b"/api/v1/allmetrics"[..],
                &b"format=prometheus&help=yes"[..]
            )
        );
        assert_eq!(split_target(b"/x"), (&b"/x"[..], &b""[..]));
        assert_eq!(split_target(b"/x?"), (&b"/x"[..], &b""[..]));
    }

    #[test]
    fn gzip_negotiation() {
        assert!(head(
            b"GET / HTTP/1.1\r\nAccept-Encoding: deflate\r\nAccept-Encoding: gzip\r\n\r\n"
        )
        .accepts_gzip());
        assert!(!head(b"GET / HTTP/1.1\r\n\r\n").accepts_gzip());
        assert!(accepts_gzip(b"x-gzip"));
        assert!(accepts_gzip(b"gzip;q=0.001"));
        assert!(accepts_gzip(b"*;q=0.5"));
        assert!(!accepts_gzip(b"*;q=0"));
        assert!(!accepts_gzip(b"gzip;q=abc"));
        assert!(!accepts_gzip(b""));
        assert!(!accepts_gzip(b"gzipx"));
    }

    #[test]
    fn scanner_resumes_without_missing_a_split_terminator() {
        let full = b"GET / HTTP/1.1\r\nA: b\r\n\r\nTAIL";
        let end = find_head_end(full).unwrap();
        assert_eq!(&full[end..], b"TAIL");
        for step in 1..=4 {
            let mut scanner = HeadScanner::default();
            let mut len = 0;
            let found = loop {
                len = (len + step).min(full.len());
                if let Some(found) = scanner.scan(&full[..len]) {
                    break found;
                }
                assert!(len < full.len());
            };
            assert_eq!(found, end, "step {step}");
        }
    }
}
