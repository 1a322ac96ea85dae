//! [`Response`]: what the router answers, and the bytes that go on the
//! wire: the status line, netdata's headers, and the body, gzipped when
//! the client accepts it and `[web] enable gzip compression` is on.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;

/// `text/plain; charset=utf-8`.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// `application/json`.
pub const JSON: &str = "application/json";
pub const HTML: &str = "text/html; charset=utf-8";

/// A response before it is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Further header lines (`Allow: ...`), without line ends.
    pub headers: Vec<String>,
    /// Close the connection after this response, whatever the client asked.
    pub close: bool,
    /// The first `head_room` bytes of `body` are not content: room a
    /// handler left for the head ([`Response::with_head_room`]).
    pub head_room: usize,
}

impl Response {
    /// A response with `body` of type `content_type`.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
            close: false,
            head_room: 0,
        }
    }

    /// The same response, whose body starts with `head_room` bytes that
    /// are room for the head, not content (at most the body's length).
    /// When the head turns out to be exactly that long and the body goes
    /// out as it is, [`encode_owned`] writes the head there and the body
    /// is not moved at all: a handler of megabyte bodies that can tell the
    /// head's length in advance ([`plain_head_len`]) leaves that much.
    pub fn with_head_room(mut self, head_room: usize) -> Response {
        self.head_room = head_room.min(self.body.len());
        self
    }

    /// The body's content (after the head room).
    pub fn content(&self) -> &[u8] {
        self.body.get(self.head_room..).unwrap_or_default()
    }

    /// A plain-text response; a line end is added if `text` has none.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        let mut text = text.into();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Response::new(status, TEXT, text)
    }

    /// The same response, closing the connection after it.
    pub fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    /// The same response with one more header line.
    pub fn header(mut self, line: impl Into<String>) -> Response {
        self.headers.push(line.into());
        self
    }
}

/// The reason phrase of the statuses backhaul sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// How a response is encoded.
#[derive(Debug, Clone, Copy)]
pub struct Encoding<'a> {
    /// A `HEAD` request: headers only (`Content-Length` still says how long
    /// the body would be).
    pub head_only: bool,
    /// Whether the connection stays open after this response.
    pub keep_alive: bool,
    /// The gzip level, when the body may be gzipped.
    pub gzip_level: Option<u32>,
    /// Byte counts before and after compression, for the compression chart.
    pub gzip_counts: Option<&'a GzipCounts>,
    /// Seconds since the epoch, for the `Date` header.
    pub now_s: u64,
}

/// Bytes that went into and came out of gzip.
#[derive(Debug, Default)]
pub struct GzipCounts {
    pub before: AtomicU64,
    pub after: AtomicU64,
}

/// The response's bytes: head and (unless `head_only`) body.
pub fn encode(response: &Response, encoding: &Encoding<'_>) -> Vec<u8> {
    let gzipped = gzip_body(response, encoding);
    let body = gzipped.as_deref().unwrap_or(response.content());
    let mut out = Vec::with_capacity(320 + if encoding.head_only { 0 } else { body.len() });
    write_head(&mut out, response, encoding, gzipped.is_some(), body.len());
    if !encoding.head_only {
        out.extend_from_slice(body);
    }
    out
}

/// What [`encode`] returns, made from the response's own body: a body
/// that is sent as it is keeps its allocation. The head goes into the
/// body's head room when it is exactly that long (nothing moves), else in
/// front of the content in place (one move of the body within its
/// allocation, which a body written with some spare capacity already
/// has), never into a new buffer: a scrape's body is megabytes, and a new
/// buffer costs its page faults and the copy.
///
/// When the bytes are a new buffer (gzipped, or the head alone), the
/// body's buffer goes to `spent` (`drop`, or where a megabyte buffer can
/// serve again: [`super::allmetrics::AllmetricsState::recycle_body`]).
pub fn encode_owned(
    response: Response,
    encoding: &Encoding<'_>,
    spent: impl FnOnce(Vec<u8>),
) -> Vec<u8> {
    let content_len = response.content().len();
    let gzipped = encoding.gzip_level.is_some() && content_len > 0;
    let sent_as_is = !(encoding.head_only || gzipped);
    if !sent_as_is {
        let bytes = encode(&response, encoding);
        spent(response.body);
        return bytes;
    }
    let mut head = Vec::with_capacity(320);
    write_head(&mut head, &response, encoding, false, content_len);
    let room = response.head_room;
    let mut bytes = response.body;
    match bytes.get_mut(..room) {
        Some(space) if space.len() == head.len() => space.copy_from_slice(&head),
        _ => {
            bytes.splice(..room, head);
        }
    }
    bytes
}

/// The length of the head [`encode`] writes for a response of `status`
/// and `content_type` with no further header, not gzipped, with a body of
/// `body_len` bytes: the head room a handler leaves
/// ([`Response::with_head_room`]).
pub fn plain_head_len(
    status: u16,
    content_type: &'static str,
    keep_alive: bool,
    body_len: usize,
) -> usize {
    let mut head = Vec::with_capacity(320);
    let encoding = Encoding {
        head_only: false,
        keep_alive,
        gzip_level: None,
        gzip_counts: None,
        // Every date has the same length (`Date` is IMF-fixdate).
        now_s: 0,
    };
    write_head(
        &mut head,
        &Response::new(status, content_type, Vec::new()),
        &encoding,
        false,
        body_len,
    );
    head.len()
}

/// The body gzipped, when the encoding asks for it (and counted).
fn gzip_body(response: &Response, encoding: &Encoding<'_>) -> Option<Vec<u8>> {
    let gzipped = match encoding.gzip_level {
        Some(level) if !response.content().is_empty() => gzip(response.content(), level),
        _ => None,
    };
    if let (Some(counts), Some(gzipped)) = (encoding.gzip_counts, &gzipped) {
        let before = u64::try_from(response.content().len()).unwrap_or(u64::MAX);
        let after = u64::try_from(gzipped.len()).unwrap_or(u64::MAX);
        counts.before.fetch_add(before, Ordering::Relaxed);
        counts.after.fetch_add(after, Ordering::Relaxed);
    }
    gzipped
}

/// Appends the status line and headers, and the blank line after them.
fn write_head(
    out: &mut Vec<u8>,
    response: &Response,
    encoding: &Encoding<'_>,
    gzipped: bool,
    body_len: usize,
) {
    let date = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(encoding.now_s),
    );
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\n\
         Connection: {}\r\n\
         Server: {}\r\n\
         Access-Control-Allow-Origin: *\r\n\
         Access-Control-Allow-Credentials: true\r\n\
         Content-Type: {}\r\n\
         Date: {date}\r\n\
         Cache-Control: no-cache, no-store, must-revalidate\r\n\
         Pragma: no-cache\r\n",
        response.status,
        reason(response.status),
        if encoding.keep_alive {
            "keep-alive"
        } else {
            "close"
        },
        super::SERVER_NAME,
        response.content_type,
    );
    for line in &response.headers {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if gzipped {
        out.extend_from_slice(b"Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
    }
    let _ = write!(out, "Content-Length: {body_len}\r\n\r\n");
}

/// `body` gzipped at `level` (`None` if compression failed, which writing
/// to memory does not).
fn gzip(body: &[u8], level: u32) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        Compression::new(level.min(9)),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn encoding(gzip_level: Option<u32>) -> Encoding<'static> {
        Encoding {
            head_only: false,
            keep_alive: true,
            gzip_level,
            gzip_counts: None,
            now_s: 1_795_688_386,
        }
    }

    fn split(bytes: &[u8]) -> (String, Vec<u8>) {
        let end = wire::http_request::find_head_end(bytes).expect("a head");
        (
            String::from_utf8(bytes[..end].to_vec()).unwrap(),
            bytes[end..].to_vec(),
        )
    }

    #[test]
    fn a_plain_response() {
        let (head, body) = split(&encode(
            &Response::text(404, "no such thing"),
            &encoding(None),
        ));
        assert!(head.starts_with("HTTP/1.1 404 Not Found\r\nConnection: keep-alive\r\n"));
        assert!(head.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
        assert!(head.contains("\r\nDate: Thu, 26 Nov 2026 10:19:46 GMT\r\n"));
        assert!(head.ends_with("\r\nContent-Length: 14\r\n\r\n"));
        assert!(!head.contains("gzip"));
        assert_eq!(body, b"no such thing\n");
    }

    #[test]
    fn gzip_round_trip_and_counts() {
        let text = "netdata_system_cpu_percentage_average{chart=\"system.cpu\"} 1.5\n".repeat(50);
        let counts = GzipCounts::default();
        let mut enc = encoding(Some(3));
        enc.gzip_counts = Some(&counts);
        let response = Response::new(200, TEXT, text.clone()).header("X-Test: 1");
        let (head, body) = split(&encode(&response, &enc));
        assert!(head.contains("\r\nContent-Encoding: gzip\r\n"));
        assert!(head.contains("\r\nX-Test: 1\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        let mut plain = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, text);
        assert_eq!(counts.before.load(Ordering::Relaxed), text.len() as u64);
        assert_eq!(counts.after.load(Ordering::Relaxed), body.len() as u64);
        assert!(body.len() < text.len() / 5);
    }

    #[test]
    fn head_requests_get_the_length_without_the_body() {
        let mut enc = encoding(None);
        enc.head_only = true;
        enc.keep_alive = false;
        let (head, body) = split(&encode(&Response::text(200, "12345"), &enc));
        assert!(head.contains("\r\nConnection: close\r\n"));
        assert!(head.contains("\r\nContent-Length: 6\r\n"));
        assert!(body.is_empty());
    }

    #[test]
    fn owned_encoding_gives_the_same_bytes() {
        let counts = GzipCounts::default();
        let mut body = b"x 1\n".repeat(1000);
        body.reserve(400);
        let owned_ptr = body.as_ptr();
        for (gzip_level, head_only) in [(None, false), (Some(1), false), (None, true)] {
            let mut enc = encoding(gzip_level);
            enc.head_only = head_only;
            enc.gzip_counts = Some(&counts);
            let response = Response::new(200, TEXT, body.clone()).header("X-Test: 1");
            assert_eq!(
                encode_owned(response.clone(), &enc, drop),
                encode(&response, &enc)
            );
        }
        // A body with room for the head keeps its allocation.
        let bytes = encode_owned(Response::new(200, TEXT, body), &encoding(None), drop);
        assert_eq!(bytes.as_ptr(), owned_ptr);
        // Head room: the head written into it when it fits exactly, the
        // content moved when it does not; the same bytes either way.
        let content = b"x 1\n".repeat(1000);
        let exact = plain_head_len(200, TEXT, true, content.len());
        for room in [exact, exact - 1, exact + 1, 0] {
            let mut body = vec![b'?'; room];
            body.extend_from_slice(&content);
            let ptr = body.as_ptr();
            let response = Response::new(200, TEXT, body).with_head_room(room);
            assert_eq!(response.content(), &content[..]);
            let plain = Response::new(200, TEXT, content.clone());
            for (gzip_level, head_only) in [(Some(1), false), (None, true)] {
                let mut enc = encoding(gzip_level);
                enc.head_only = head_only;
                assert_eq!(encode(&response, &enc), encode(&plain, &enc), "room {room}");
                assert_eq!(
                    encode_owned(response.clone(), &enc, drop),
                    encode(&plain, &enc)
                );
            }
            let bytes = encode_owned(response, &encoding(None), drop);
            assert_eq!(bytes, encode(&plain, &encoding(None)), "room {room}");
            if room == exact {
                assert_eq!(bytes.as_ptr(), ptr, "written in place");
            }
        }
        assert_eq!(
            Response::new(200, TEXT, b"ab".to_vec())
                .with_head_room(5)
                .content(),
            b""
        );
        let empty = Response::new(204, TEXT, Vec::new());
        assert_eq!(
            encode_owned(empty.clone(), &encoding(Some(1)), drop),
            encode(&empty, &encoding(Some(1)))
        );
    }
}
