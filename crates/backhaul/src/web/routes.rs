//! The router: a complete request in, a response (or a hand-off) out. Runs
//! on a worker thread; reads the store, never a file.
//!
//! * `STREAM ...` (a netdata child): `allow streaming from`, then the
//!   registered [`StreamHandler`] takes the connection; without one, 401
//!   and a line saying no API key is enabled in stream.conf.
//! * Only `GET` and `HEAD` otherwise (405 with `Allow: GET, HEAD`).
//! * The path is percent-decoded; a `.` or `..` segment is a 400 (no file
//!   is ever read: there are no static files yet), a `/host/NAME/` prefix
//!   picks a host of the store (404 when there is none by that name).
//! * `/api/v1/allmetrics` → [`allmetrics::serve`]; `/api/v1/info`;
//!   `/api/v1/charts`; `/api/v1/exporters` (the exporting instances,
//!   collectors, plugins and hosts as JSON); `/` the status page (the same
//!   as HTML, with plots); `/netdata.conf`,
//!   `/api/v1/manage/...` and `/api/v1/badge.svg` are checked against their
//!   access lists, then answered 404 (not served by backhaul).
//!
//! With `ssl key` and `ssl certificate` set, a plain-HTTP request (not
//! `STREAM`) is redirected to the same URL over HTTPS (301), as netdata does
//! by default.
//!
//! Access is checked as netdata does: the API and `/` need `allow dashboard
//! from`, a denied client gets 403 and netdata's text.

use std::sync::Arc;

use rrd::{Host, Store};

use super::access::{Access, Area};
use super::allmetrics::{self, AllmetricsState};
use super::response::{GzipCounts, Response};
use super::server::StreamHandler;
use super::Request;
use crate::config::PrometheusExporterConfig;
use crate::system_facts::SystemFacts;

/// What the router decided.
pub enum Outcome {
    Respond(Response),
    /// Hand the connection to this handler.
    Upgrade(Arc<dyn StreamHandler>),
}

/// What the router reads: shared by every worker.
pub struct Context {
    pub store: Arc<Store>,
    pub prometheus: PrometheusExporterConfig,
    pub allmetrics: AllmetricsState,
    pub access: Access,
    /// The gzip level, when `enable gzip compression` is on.
    pub gzip_level: Option<u32>,
    pub gzip_counts: GzipCounts,
    pub facts: &'static SystemFacts,
    /// The machine GUID for `/api/v1/info` (see [`super::info::read_machine_guid`]).
    pub machine_guid: Option<String>,
    pub stream_handler: Option<Arc<dyn StreamHandler>>,
    /// The exporting instances, collectors and plugins to report.
    pub status: Arc<super::StatusSources>,
    pub tls_enabled: bool,
    /// Whether this agent streams its own host to a parent (`[stream]
    /// enabled`), for `/api/v1/info`.
    pub stream_enabled: bool,
    /// `[db] update every` of the agent.
    pub update_every: u32,
}

/// netdata's answer to a client an access list refuses.
pub const DENIED_TEXT: &str = "You are not allowed to access this resource.";

/// The answer to `STREAM` when no stream receiver runs (stream.conf
/// enables no API key).
pub const STREAM_REFUSED_TEXT: &str =
    "This agent (backhaul) does not accept streaming: no API key is enabled in its stream.conf.";

fn denied() -> Response {
    Response::text(403, DENIED_TEXT)
}

/// Routes one request at `now_s` (seconds since the epoch).
pub fn route(ctx: &Context, request: &Request, now_s: i64) -> Outcome {
    let client = request.client_ip();
    if request.method == "STREAM" {
        if !ctx.access.allows(Area::Streaming, client) {
            return Outcome::Respond(denied().closing());
        }
        return match &ctx.stream_handler {
            Some(handler) => Outcome::Upgrade(handler.clone()),
            None => Outcome::Respond(Response::text(401, STREAM_REFUSED_TEXT).closing()),
        };
    }
    if ctx.tls_enabled && !request.tls {
        return Outcome::Respond(redirect_to_https(request));
    }
    if request.method != "GET" && request.method != "HEAD" {
        return Outcome::Respond(
            Response::text(405, format!("Method {} is not supported.", request.method))
                .header("Allow: GET, HEAD"),
        );
    }
    Outcome::Respond(route_get(ctx, request, client, now_s))
}

/// With TLS configured, a plain-HTTP request is sent to the same URL over
/// HTTPS (netdata's default for its web requests; streams may stay plain).
fn redirect_to_https(request: &Request) -> Response {
    match request.header("host").map(String::from_utf8_lossy) {
        Some(host) if !host.is_empty() => Response::text(
            301,
            "This server wants HTTPS; moved to the same address over https://.",
        )
        .header(format!(
            "Location: https://{host}{}",
            String::from_utf8_lossy(&request.target)
        )),
        _ => Response::text(
            400,
            "This server wants HTTPS (and a Host header to redirect to it).",
        ),
    }
}

fn route_get(ctx: &Context, request: &Request, client: std::net::IpAddr, now_s: i64) -> Response {
    let (raw_path, raw_query) = request.path_and_query();
    if raw_path.first() != Some(&b'/') {
        return Response::text(400, "The request target must be a path starting with '/'.");
    }
    let Ok(path) = wire::http_request::percent_decode(raw_path) else {
        return Response::text(400, "Malformed URL: bad percent-encoding.");
    };
    let Ok(path) = String::from_utf8(path) else {
        return Response::text(400, "Malformed URL: the path is not UTF-8.");
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Response::text(400, "Relative paths are not supported.");
    }
    let Ok(query) = std::str::from_utf8(raw_query) else {
        return Response::text(400, "Malformed URL: the query is not UTF-8.");
    };

    let (host, host_name, rest) = match segments.as_slice() {
        ["host", name, rest @ ..] => match find_host(&ctx.store, name) {
            Some(host) => (host, Some(*name), rest),
            None => {
                if !ctx.access.allows(Area::Dashboard, client) {
                    return denied();
                }
                return Response::text(404, format!("No host named '{name}' here."));
            }
        },
        ["host"] => return Response::text(400, "Which host? Use /host/NAME/..."),
        rest => (ctx.store.localhost().clone(), None, rest),
    };
    if matches!(rest.first(), Some(&"host")) {
        return Response::text(400, "Nesting of hosts is not allowed.");
    }

    let area = match rest {
        ["netdata.conf"] => Area::NetdataConf,
        ["api", "v1", "manage", ..] => Area::Management,
        ["api", "v1", "badge.svg"] => {
            if ctx.access.allows(Area::Badges, client) {
                Area::Badges
            } else {
                Area::Dashboard
            }
        }
        _ => Area::Dashboard,
    };
    if !ctx.access.allows(area, client) {
        return denied();
    }

    match rest {
        [] => {
            let report = ctx.status.report(&ctx.store, now_s);
            Response::new(
                200,
                super::response::HTML,
                super::status::page::render(&report, &ctx.store, super::SERVER_NAME),
            )
        }
        ["api", "v1", "exporters"] => Response::new(
            200,
            super::response::JSON,
            super::json::to_body(&ctx.status.report(&ctx.store, now_s)),
        ),
        ["api", "v1", "allmetrics"] => {
            // A Prometheus body that goes out as it is (not gzipped, not
            // for HEAD) starts with room for the head, as long as the head
            // of a body as long as the last one: then `encode_owned` puts
            // the head there and the megabytes are never moved.
            let as_is =
                request.method != "HEAD" && !(ctx.gzip_level.is_some() && request.accepts_gzip);
            let head_room = if as_is {
                super::response::plain_head_len(
                    200,
                    allmetrics::CONTENT_TYPE_PROMETHEUS,
                    request.keep_alive,
                    ctx.allmetrics.body_len_guess(),
                )
            } else {
                0
            };
            let answer = allmetrics::serve_with_head_room(
                query,
                client,
                host_name,
                &ctx.store,
                &ctx.prometheus,
                &ctx.allmetrics,
                now_s,
                head_room,
            );
            Response::new(answer.status, answer.content_type, answer.body)
                .with_head_room(answer.head_room)
        }
        ["api", "v1", "info"] => {
            Response::new(200, super::response::JSON, super::info::render(ctx, &host))
        }
        ["api", "v1", "charts"] => Response::new(
            200,
            super::response::JSON,
            super::charts::render(ctx, &host),
        ),
        _ => Response::text(404, format!("{path} is not served by backhaul.")),
    }
}

/// The host of the store named `name`, else the one whose machine GUID it
/// is (as netdata: two children may share a hostname, and the second is
/// reached by its GUID).
fn find_host(store: &Store, name: &str) -> Option<Arc<Host>> {
    store
        .hosts()
        .into_iter()
        .find(|h| h.hostname() == name)
        .or_else(|| store.host_by_guid(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebAccess;
    use rrd::{ChartDef, DimensionDef};

    fn context(access: WebAccess) -> Context {
        let local = Host::new("box", 60);
        let chart = local.create_chart(
            ChartDef::new("system", "cpu")
                .title("Total CPU utilization")
                .units("percentage")
                .family("cpu"),
        );
        chart
            .write()
            .add_dimension(DimensionDef::new("user").name("User"));
        let store = Arc::new(Store::new(local));
        store.add_host(Host::new("child-1", 60));
        store.add_host_by_guid(
            Host::new("child-1", 60).with_machine_guid("0c0ffee0-0000-4000-8000-00000000000b"),
        );
        Context {
            store,
            prometheus: PrometheusExporterConfig::default(),
            allmetrics: AllmetricsState::new(),
            access: Access::new(&access),
            gzip_level: None,
            gzip_counts: GzipCounts::default(),
            facts: SystemFacts::get(),
            machine_guid: None,
            stream_handler: None,
            status: Arc::default(),
            tls_enabled: false,
            stream_enabled: false,
            update_every: 1,
        }
    }

    fn request(method: &str, target: &str, peer: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.as_bytes().to_vec(),
            version: wire::http_request::Version::Http11,
            headers: Vec::new(),
            peer: peer.parse().unwrap(),
            tls: false,
            keep_alive: true,
            accepts_gzip: false,
        }
    }

    fn get(ctx: &Context, target: &str) -> Response {
        match route(ctx, &request("GET", target, "127.0.0.1:5000"), 1000) {
            Outcome::Respond(r) => r,
            Outcome::Upgrade(_) => panic!("no upgrade expected"),
        }
    }

    #[test]
    fn traversal_and_bad_paths_never_reach_a_handler() {
        let ctx = context(WebAccess::default());
        for target in [
            "/../../etc/passwd",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/api/../../etc/passwd",
            "/./x",
            "/a%zz",
            "/a%00b",
            "/%ff",
            "etc/passwd",
            "*",
        ] {
            assert_eq!(get(&ctx, target).status, 400, "{target}");
        }
        assert_eq!(get(&ctx, "/etc/passwd").status, 404);
        assert_eq!(get(&ctx, "/host/box/host/child-1/api/v1/info").status, 400);
    }

    #[test]
    fn hosts_and_endpoints() {
        let ctx = context(WebAccess::default());
        assert_eq!(get(&ctx, "/").status, 200);
        assert_eq!(get(&ctx, "/api/v1/info").status, 200);
        assert_eq!(get(&ctx, "/host/child-1/api/v1/charts").status, 200);
        assert_eq!(get(&ctx, "/host/nobody/api/v1/allmetrics").status, 404);
        // A second child named child-1 is reached by its machine GUID.
        let info = get(
            &ctx,
            "/host/0c0ffee0-0000-4000-8000-00000000000b/api/v1/info",
        );
        assert_eq!(info.status, 200);
        let info = String::from_utf8(info.body).unwrap();
        assert!(
            info.contains("0c0ffee0-0000-4000-8000-00000000000b"),
            "{info}"
        );
        let allmetrics = get(&ctx, "/host/child-1/api/v1/allmetrics?format=prometheus");
        if allmetrics.status == 501 {
            // The stub names what it was given.
            let text = String::from_utf8(allmetrics.body).unwrap();
            assert!(text.contains("host=child-1"), "{text}");
            assert!(text.contains("client=127.0.0.1"), "{text}");
            assert!(text.contains("query=format=prometheus"), "{text}");
        } else {
            assert_eq!(allmetrics.status, 200);
            // Room for the head, then the content.
            assert!(allmetrics.head_room > 0);
            assert!(allmetrics.content().starts_with(b"netdata_info{"));
        }
        assert_eq!(get(&ctx, "/netdata.conf").status, 404);
        assert_eq!(get(&ctx, "/api/v1/manage/health").status, 404);
    }

    #[test]
    fn methods_and_stream() {
        let ctx = context(WebAccess::default());
        match route(&ctx, &request("POST", "/api/v1/info", "127.0.0.1:1"), 0) {
            Outcome::Respond(r) => {
                assert_eq!(r.status, 405);
                assert_eq!(r.headers, ["Allow: GET, HEAD"]);
            }
            Outcome::Upgrade(_) => panic!(),
        }
        match route(
            &ctx,
            &request("STREAM", "key=k&hostname=c", "127.0.0.1:1"),
            0,
        ) {
            Outcome::Respond(r) => {
                assert_eq!(r.status, 401);
                assert!(r.close);
            }
            Outcome::Upgrade(_) => panic!(),
        }
    }

    #[test]
    fn access_lists_per_area() {
        let ctx = context(WebAccess {
            dashboard: "127.0.0.1".to_string(),
            management: "10.*".to_string(),
            streaming: "!*".to_string(),
            ..WebAccess::default()
        });
        let status = |target: &str, peer: &str| match route(&ctx, &request("GET", target, peer), 0)
        {
            Outcome::Respond(r) => (r.status, String::from_utf8(r.body).unwrap()),
            Outcome::Upgrade(_) => panic!(),
        };
        assert_eq!(status("/api/v1/info", "127.0.0.1:1").0, 200);
        let (code, body) = status("/api/v1/info", "127.0.0.2:1");
        assert_eq!((code, body.trim_end()), (403, DENIED_TEXT));
        assert_eq!(status("/", "127.0.0.2:1").0, 403);
        assert_eq!(status("/api/v1/exporters", "127.0.0.2:1").0, 403);
        assert_eq!(status("/api/v1/exporters", "127.0.0.1:1").0, 200);
        assert_eq!(status("/host/child-1/api/v1/charts", "127.0.0.2:1").0, 403);
        assert_eq!(status("/api/v1/manage/health", "127.0.0.1:1").0, 403);
        assert_eq!(status("/api/v1/manage/health", "10.0.0.1:1").0, 404);
        match route(&ctx, &request("STREAM", "key=k", "127.0.0.1:1"), 0) {
            Outcome::Respond(r) => assert_eq!(r.status, 403),
            Outcome::Upgrade(_) => panic!(),
        }
    }

    #[test]
    fn plain_http_is_redirected_when_tls_is_on() {
        let mut ctx = context(WebAccess::default());
        ctx.tls_enabled = true;
        let mut plain = request("GET", "/api/v1/info?x=1", "127.0.0.1:1");
        plain
            .headers
            .push(("Host".to_string(), b"box:19999".to_vec()));
        match route(&ctx, &plain, 0) {
            Outcome::Respond(r) => {
                assert_eq!(r.status, 301);
                assert_eq!(r.headers, ["Location: https://box:19999/api/v1/info?x=1"]);
            }
            Outcome::Upgrade(_) => panic!(),
        }
        plain.headers.clear();
        match route(&ctx, &plain, 0) {
            Outcome::Respond(r) => assert_eq!(r.status, 400),
            Outcome::Upgrade(_) => panic!(),
        }
        plain.tls = true;
        match route(&ctx, &plain, 0) {
            Outcome::Respond(r) => assert_eq!(r.status, 200),
            Outcome::Upgrade(_) => panic!(),
        }
    }
}
