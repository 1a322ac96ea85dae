//! Self-tests of the scripted HTTP(S) test receiver
//! (`support/http_receiver.rs`) and the test PKI (`support/tls.rs`), driven
//! by a small raw client here: every scripted answer, keep-alive and
//! pipelining, exact recording of heads and line endings, TLS with SNI,
//! a wrong CA, client certificates, protocol errors, and a bounded stop.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use support::http_receiver::{
    always, in_order, script, split_body, Action, Framing, HttpReceiver, Outcome,
};
use support::tls::TestPki;

const WAIT: Duration = Duration::from_secs(10);

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: test:1\r\nContent-Type: application/graphite\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A parsed response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (Content-Length framing; none for 204).
fn read_reply(s: &mut dyn Stream) -> io::Result<Reply> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte)? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("eof after {:?}", String::from_utf8_lossy(&head)),
                ))
            }
            _ => head.push(byte[0]),
        }
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_string(), v.trim().to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Reads until EOF (bounded by the read timeout).
fn read_to_eof(s: &mut dyn Stream) -> Vec<u8> {
    let mut rest = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return rest,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return rest,
            Err(e) => panic!("expected EOF, got {e} after {rest:?}"),
        }
    }
}

#[test]
fn answers_every_scripted_status_on_one_keep_alive_connection() {
    let statuses = [200u16, 204, 400, 413, 429, 500, 503, 200];
    let rx = HttpReceiver::start(in_order(
        vec![
            Action::status(200),
            Action::status(204),
            Action::status(400),
            Action::status(413),
            Action::retry_after(429, 3),
            Action::status(500),
            Action::retry_after(503, 7),
        ],
        Action::status(200),
    ));
    let mut s = connect(rx.addr);
    for (i, want) in statuses.iter().enumerate() {
        s.write_all(&post("/api/put", &format!("line {i} 1 2\n")))
            .unwrap();
        let reply = read_reply(&mut s).unwrap();
        assert_eq!(reply.status, *want, "request {i}");
        match want {
            204 => {
                assert!(reply.body.is_empty());
                assert_eq!(reply.header("Content-Length"), None);
            }
            429 => assert_eq!(reply.header("Retry-After"), Some("3")),
            503 => assert_eq!(reply.header("Retry-After"), Some("7")),
            _ => assert!(!reply.body.is_empty()),
        }
    }
    let got = rx.wait_requests(statuses.len(), WAIT);
    assert_eq!(rx.connections(), 1);
    for (i, r) in got.iter().enumerate() {
        assert_eq!((r.seq, r.connection, r.on_connection), (i, 0, i));
        assert_eq!(
            (r.method.as_str(), r.target.as_str(), r.version.as_str()),
            ("POST", "/api/put", "HTTP/1.1")
        );
        assert_eq!(r.outcome, Outcome::Answered(statuses[i]));
        assert_eq!(r.accepted, (200..300).contains(&statuses[i]), "#{i}");
        assert_eq!(r.body, format!("line {i} 1 2\n").as_bytes());
        assert!(r.request_line_crlf && r.headers.iter().all(|h| h.crlf));
        assert_eq!(r.header("content-type"), Some("application/graphite"));
        assert_eq!(r.raw(), post("/api/put", &format!("line {i} 1 2\n")));
        assert!(r.answered_at.unwrap() >= r.at);
        assert!(!r.tls && r.sni.is_none());
    }
    assert_eq!(rx.count_answered(200), 2);
    assert_eq!(
        rx.delivered_items(Framing::Lines).unwrap(),
        vec!["line 0 1 2", "line 1 1 2", "line 7 1 2"]
    );
    assert!(rx.protocol_errors().is_empty());
}

#[test]
fn records_bare_lf_header_lines_and_pipelined_requests() {
    let rx = HttpReceiver::start(always(Action::status(200)));
    let mut s = connect(rx.addr);
    // netdata's Authorization line ends in a bare LF; two requests in one
    // write.
    let first = b"POST /a HTTP/1.1\r\nHost: h:1\r\nAuthorization: Basic dXNlcjE6czNjcmV0\nContent-Length: 3\r\n\r\nab\n";
    let second = post("/b", "");
    let mut both = first.to_vec();
    both.extend_from_slice(&second);
    s.write_all(&both).unwrap();
    assert_eq!(read_reply(&mut s).unwrap().status, 200);
    assert_eq!(read_reply(&mut s).unwrap().status, 200);
    let got = rx.wait_requests(2, WAIT);
    let crlf: Vec<(&str, bool)> = got[0]
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.crlf))
        .collect();
    assert_eq!(
        crlf,
        vec![
            ("Host", true),
            ("Authorization", false),
            ("Content-Length", true)
        ]
    );
    assert_eq!(
        got[0].header("authorization"),
        Some("Basic dXNlcjE6czNjcmV0")
    );
    assert_eq!(got[0].raw(), first);
    assert_eq!(got[1].raw(), second);
    assert_eq!(got[1].body, b"");
    assert_eq!((got[1].connection, got[1].on_connection), (0, 1));
}

#[test]
fn closes_after_answering_silently_or_announced() {
    let rx = HttpReceiver::start(in_order(
        vec![
            Action::status(200).then_close(),
            Action::status(204).then_close_announced(),
        ],
        Action::status(200),
    ));
    let mut s = connect(rx.addr);
    s.write_all(&post("/api/put", "x 1 1\n")).unwrap();
    let reply = read_reply(&mut s).unwrap();
    assert_eq!((reply.status, reply.header("Connection")), (200, None));
    assert_eq!(read_to_eof(&mut s), b"");

    let mut s = connect(rx.addr);
    s.write_all(&post("/api/put", "y 1 1\n")).unwrap();
    let reply = read_reply(&mut s).unwrap();
    assert_eq!(
        (reply.status, reply.header("Connection")),
        (204, Some("close"))
    );
    assert_eq!(read_to_eof(&mut s), b"");
    assert!(rx.wait(WAIT, |s| s.closed == 2));
    let got = rx.requests();
    assert_eq!((got[0].connection, got[1].connection), (0, 1));
}

#[test]
fn cuts_mid_response_or_closes_without_answer() {
    let rx = HttpReceiver::start(in_order(
        vec![
            Action::CloseMidResponse { accepted: true },
            Action::CloseWithoutAnswer { accepted: false },
            Action::CloseWithoutAnswer { accepted: true },
        ],
        Action::status(200),
    ));
    let mut s = connect(rx.addr);
    s.write_all(&post("/api/put", "a 1 1\n")).unwrap();
    assert_eq!(read_to_eof(&mut s), b"HTTP/1.1 2");
    for _ in 0..2 {
        let mut s = connect(rx.addr);
        s.write_all(&post("/api/put", "b 1 1\n")).unwrap();
        assert_eq!(read_to_eof(&mut s), b"");
    }
    let got = rx.wait_requests(3, WAIT);
    assert_eq!(
        got.iter()
            .map(|r| (r.outcome, r.accepted))
            .collect::<Vec<_>>(),
        vec![
            (Outcome::CutMidResponse, true),
            (Outcome::Unanswered, false),
            (Outcome::Unanswered, true)
        ]
    );
    assert_eq!(
        rx.delivered_items(Framing::Lines).unwrap(),
        ["a 1 1", "b 1 1"]
    );
}

#[test]
fn answers_after_the_scripted_delay() {
    let delay = Duration::from_millis(300);
    let rx = HttpReceiver::start(always(Action::status(200).delayed(delay)));
    let mut s = connect(rx.addr);
    let sent = Instant::now();
    s.write_all(&post("/api/put", "a 1 1\n")).unwrap();
    // Before the answer, the request is recorded and pending.
    assert!(rx.wait(WAIT, |s| s.requests.len() == 1));
    assert_eq!(rx.requests()[0].outcome, Outcome::Pending);
    assert_eq!(read_reply(&mut s).unwrap().status, 200);
    assert!(sent.elapsed() >= delay);
    let r = &rx.wait_requests(1, WAIT)[0];
    assert!(r.answered_at.unwrap() - r.at >= delay);
}

#[test]
fn a_script_can_look_at_the_request() {
    // As a server with a body limit would: 413 over 10 bytes.
    let rx = HttpReceiver::start(script(|r| {
        if r.body.len() > 10 {
            Action::status(413)
        } else {
            Action::status(200)
        }
    }));
    let mut s = connect(rx.addr);
    s.write_all(&post("/api/put", "0123456789abc\n")).unwrap();
    assert_eq!(read_reply(&mut s).unwrap().status, 413);
    s.write_all(&post("/api/put", "short\n")).unwrap();
    assert_eq!(read_reply(&mut s).unwrap().status, 200);
    assert_eq!(rx.count_answered(413), 1);
}

#[test]
fn protocol_errors_are_recorded() {
    let rx = HttpReceiver::start(always(Action::status(200)));
    let mut s = connect(rx.addr);
    s.write_all(b"POST /api/put HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut s).unwrap().status, 400);
    let mut s = connect(rx.addr);
    s.write_all(b"POST /api/put HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(rx.wait(WAIT, |s| s.protocol_errors.len() == 2 && s.closed == 2));
    let errors = rx.protocol_errors();
    assert!(errors[0].contains("chunked"), "{errors:?}");
    assert!(errors[1].contains("incomplete"), "{errors:?}");
    assert!(rx.requests().is_empty());
}

#[test]
fn body_framings_are_checked_strictly() {
    assert_eq!(
        split_body(b"a 1 2\nb 3 4\n", Framing::Lines).unwrap(),
        ["a 1 2", "b 3 4"]
    );
    assert!(split_body(b"a 1 2\nb 3", Framing::Lines).is_err());
    assert!(split_body(b"", Framing::Lines).unwrap().is_empty());
    assert_eq!(
        split_body(b"[\n{\"a\":1},\n{\"b\":2}\n]\n", Framing::JsonArray).unwrap(),
        ["{\"a\":1}", "{\"b\":2}"]
    );
    for bad in [
        &b"[\n{\"a\":1}\n]"[..],
        b"[{\"a\":1}]\n",
        b"[\n{\"a\":1}\n{\"b\":2}\n]\n",
        b"[\n{\"a\":1},\n]\n",
        b"",
    ] {
        assert!(
            split_body(bad, Framing::JsonArray).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

fn tls_client(
    pki: &TestPki,
    addr: SocketAddr,
    name: &str,
    client_cert: bool,
) -> StreamOwned<ClientConnection, TcpStream> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(pki.roots());
    let config = if client_cert {
        builder
            .with_client_auth_cert(vec![pki.client.cert_der.clone()], pki.client.key_der())
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let conn = ClientConnection::new(
        Arc::new(config),
        ServerName::try_from(name.to_string()).unwrap(),
    )
    .unwrap();
    StreamOwned::new(conn, connect(addr))
}

#[test]
fn tls_requests_are_recorded_with_sni_and_nothing_in_the_clear() {
    let pki = TestPki::new("selftest");
    let rx = HttpReceiver::start_tls(
        in_order(vec![Action::status(200).then_close()], Action::status(204)),
        pki.server_config(false),
    );
    // By name (SNI sent), then by address (no SNI for an IP).
    for name in ["localhost", "127.0.0.1"] {
        let mut s = tls_client(&pki, rx.addr, name, false);
        s.write_all(&post("/api/put", "secret.metric 1 1\n"))
            .unwrap();
        let reply = read_reply(&mut s).unwrap();
        assert!(reply.status == 200 || reply.status == 204);
    }
    let got = rx.wait_requests(2, WAIT);
    assert!(got.iter().all(|r| r.tls && !r.client_certificate));
    assert_eq!(got[0].sni.as_deref(), Some("localhost"));
    assert_eq!(got[1].sni, None);
    assert_eq!(got[0].body, b"secret.metric 1 1\n");
    let state = rx.state();
    assert_eq!(state.wire.len(), 2);
    for wire in &state.wire {
        assert!(!wire.is_empty());
        assert!(!contains(wire, b"POST"), "plaintext on the wire");
        assert!(!contains(wire, b"secret.metric"), "plaintext on the wire");
    }
    assert!(rx.tls_errors().is_empty());
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn tls_with_a_wrong_ca_fails_the_handshake_on_both_sides() {
    let server_pki = TestPki::new("server");
    let other = TestPki::new("other");
    let rx = HttpReceiver::start_tls(always(Action::status(200)), server_pki.server_config(false));
    let mut s = tls_client(&other, rx.addr, "localhost", false);
    let err = s
        .write_all(&post("/api/put", "secret.metric 1 1\n"))
        .and_then(|_| s.flush())
        .and_then(|_| read_reply(&mut s).map(|_| ()))
        .expect_err("the client must refuse the certificate");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(rx.wait(WAIT, |s| !s.tls_errors.is_empty() && s.closed == 1));
    assert!(rx.requests().is_empty());
    assert!(!contains(&rx.state().wire[0], b"secret.metric"));
}

#[test]
fn tls_client_certificates_can_be_required() {
    let pki = TestPki::new("mutual");
    let rx = HttpReceiver::start_tls(always(Action::status(200)), pki.server_config(true));
    let mut s = tls_client(&pki, rx.addr, "localhost", true);
    s.write_all(&post("/api/put", "a 1 1\n")).unwrap();
    assert_eq!(read_reply(&mut s).unwrap().status, 200);
    let got = rx.wait_requests(1, WAIT);
    assert!(got[0].client_certificate);
    // Without one: refused by the receiver.
    let mut s = tls_client(&pki, rx.addr, "localhost", false);
    let _ = s
        .write_all(&post("/api/put", "b 1 1\n"))
        .and_then(|_| read_reply(&mut s).map(|_| ()));
    assert!(
        rx.wait(WAIT, |s| s.tls_errors.len() == 1),
        "{:?}",
        rx.tls_errors()
    );
    assert_eq!(rx.requests().len(), 1);
}

#[test]
fn pem_files_are_written_for_connectors_and_influxdb() {
    let pki = TestPki::new("files");
    let dir = std::env::temp_dir().join(format!("backhaul-pki-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = pki.write_files(&dir);
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    assert!(read(&files.ca).starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(read(&files.ca_dir.join("ca.pem")), read(&files.ca));
    assert!(read(&files.server_key).starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(read(&files.client_key).starts_with("-----BEGIN PRIVATE KEY-----"));
    let combined = read(&files.server_combined);
    assert!(combined.starts_with(&read(&files.server_cert)));
    assert!(combined.ends_with(&read(&files.server_key)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stop_is_bounded_even_during_a_slow_answer() {
    let mut rx = HttpReceiver::start(always(Action::status(200).delayed(Duration::from_secs(60))));
    let mut s = connect(rx.addr);
    s.write_all(&post("/api/put", "a 1 1\n")).unwrap();
    assert!(rx.wait(WAIT, |s| s.requests.len() == 1));
    let started = Instant::now();
    rx.stop();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(read_to_eof(&mut s), b"");
    assert_eq!(rx.requests()[0].outcome, Outcome::AnswerFailed(200));
}
