//! The fuzz targets' entry points: one function per target of `fuzz/`, each
//! feeding arbitrary bytes to the real parsers of untrusted input and
//! asserting what must hold for every input — no panic, and where a parser
//! has a serializer, that what it produced reads back to itself.
//!
//! This module is the only door the fuzz crate and
//! `tests/fuzz_regressions.rs` have into the crate's internals, which stay
//! `pub(crate)`. It is hidden from the documentation and is not an API.
//! A failed assertion is a finding: its input goes to
//! `fuzz/regressions/<target>/` and the integration test replays it.

use std::collections::HashMap;
use std::path::Path;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::Method;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::adapter::redis::envelope::{self, WireMember};
use crate::apps::history::EventId;
use crate::auth::http_signature::{self, SignatureError, SignedRequest};
use crate::auth::jwt::{self, JwtKey, Verifier};
use crate::channels::Member;
use crate::config::load::{dotenv::parse_dotenv, load_with, Files, Texts};
use crate::config::AppConfig;
use crate::connection::session::signed_in_user;
use crate::outbound::Frame;
use crate::protocol::{ChannelKind, ChannelName, ClientEvent, ServerEvent, SocketId};
use crate::webhooks::event::Entry;

/// The names of every target, as `fuzz/fuzz_targets/` and
/// `fuzz/corpus/` name them.
pub const TARGETS: &[&str] = &[
    "client_frame",
    "channel_data",
    "channel_name",
    "http_query",
    "http_body",
    "redis_envelope",
    "config_toml",
    "dotenv",
    "jwt",
    "webhook_entry",
    "sse_request",
];

/// Runs the target called `name` on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    let target: fn(&[u8]) = match name {
        "client_frame" => client_frame,
        "channel_data" => channel_data,
        "channel_name" => channel_name,
        "http_query" => http_query,
        "http_body" => http_body,
        "redis_envelope" => redis_envelope,
        "config_toml" => config_toml,
        "dotenv" => dotenv,
        "jwt" => jwt,
        "webhook_entry" => webhook_entry,
        "sse_request" => sse_request,
        _ => return false,
    };
    target(data);
    true
}

const KEY: &str = "fuzz-key";
const SECRET: &str = "fuzz-secret";

/// Whether `text` is JSON. Checked without serde_json's recursion limit
/// (128 levels), which the parsers' `RawValue`s and ignored fields do not
/// have either: deeply nested data is valid, only `Value` refuses it.
fn is_json(text: &str) -> bool {
    serde_json::from_str::<IgnoredAny>(text).is_ok()
}

/// Whether `text` is a JSON object (not an array, which serde's derived
/// structs would also read).
fn is_json_object(text: &str) -> bool {
    crate::protocol::opens_object(text.as_bytes()) && is_json(text)
}

/// A frame's `data`, raw.
#[derive(Deserialize)]
struct FrameData<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// The roster in a presence `subscription_succeeded`'s data.
#[derive(Deserialize)]
struct RosterData<'a> {
    #[serde(borrow)]
    presence: Roster<'a>,
}

#[derive(Deserialize)]
struct Roster<'a> {
    count: usize,
    #[serde(borrow)]
    ids: Vec<&'a RawValue>,
    #[serde(borrow)]
    hash: HashMap<String, &'a RawValue>,
}

/// A client WebSocket text frame, as the connection reads it: parsed into
/// a `ClientEvent`, its channel name classified, and the event written
/// back as a frame that parses to the same event.
pub fn client_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(event) = ClientEvent::parse(text) else {
        return;
    };
    assert!(is_json_object(text), "a frame that is not an object parsed");
    if matches!(
        event,
        ClientEvent::Subscribe { .. } | ClientEvent::Signin { .. }
    ) {
        // `data` is absent, an object, or a string holding one.
        let frame: FrameData<'_> = serde_json::from_str(text).expect("the frame is JSON");
        if let Some(raw) = frame.data.map(RawValue::get) {
            if raw.starts_with('"') {
                let inner: String = serde_json::from_str(raw).expect("a JSON string");
                assert!(is_json_object(&inner), "data {inner:?}");
            } else {
                assert!(is_json_object(raw), "data {raw} is not an object");
            }
        }
    }
    let rewritten = match &event {
        ClientEvent::Ping => r#"{"event":"pusher:ping","data":{}}"#.to_owned(),
        ClientEvent::Pong => r#"{"event":"pusher:pong","data":{}}"#.to_owned(),
        ClientEvent::Ignored => return,
        ClientEvent::Subscribe {
            channel,
            auth,
            channel_data,
        } => {
            if let Some(cd) = channel_data {
                assert!(is_json(cd));
                let _ = Member::from_channel_data(cd);
            }
            let _ = ChannelName::parse(channel).map(|c| c.kind());
            serde_json::json!({
                "event": "pusher:subscribe",
                "data": { "channel": channel, "auth": auth, "channel_data": channel_data },
            })
            .to_string()
        }
        ClientEvent::Unsubscribe { channel } => serde_json::json!({
            "event": "pusher:unsubscribe",
            "data": { "channel": channel },
        })
        .to_string(),
        ClientEvent::Signin { auth, user_data } => {
            let _ = signed_in_user(user_data);
            serde_json::json!({
                "event": "pusher:signin",
                "data": { "auth": auth, "user_data": user_data },
            })
            .to_string()
        }
        ClientEvent::Client {
            event,
            channel,
            data,
        } => {
            assert!(event.starts_with("client-"));
            assert!(is_json(data), "data is JSON");
            let _ = ChannelName::parse(channel);
            let relay = ServerEvent::ClientRelay {
                event,
                channel,
                data_json: data,
                user_id: Some("u"),
            }
            .to_json();
            assert!(is_json_object(&relay), "a relayed event is JSON: {relay}");
            format!(
                r#"{{"event":{},"channel":{},"data":{data}}}"#,
                Value::from(event.as_str()),
                Value::from(channel.as_str())
            )
        }
    };
    assert_eq!(ClientEvent::parse(&rewritten).as_ref(), Ok(&event));
}

/// Presence `channel_data` and sign-in `user_data`: the member read from
/// it, its frames, its cluster form, and a signature over it.
pub fn channel_data(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((id, watchlist)) = signed_in_user(text) {
        assert!(is_json_object(text), "user_data that is not an object");
        assert!(!id.is_empty());
        assert!(watchlist.len() <= crate::apps::watchlist::MAX_WATCHLIST);
        for (i, user) in watchlist.iter().enumerate() {
            assert!(!user.is_empty());
            assert!(!watchlist[..i].contains(user), "duplicate watched user");
        }
    }
    let socket_id = "123.456";
    let token = crate::auth::channel_auth_token(KEY, SECRET, socket_id, "presence-x", Some(text));
    assert!(crate::auth::verify_channel_auth(
        KEY,
        SECRET,
        socket_id,
        "presence-x",
        Some(text),
        Some(&token)
    )
    .is_ok());
    let Ok(member) = Member::from_channel_data(text) else {
        return;
    };
    assert!(is_json_object(text), "channel_data that is not an object");
    assert!(!member.user_id.is_empty());
    let id: Value = serde_json::from_str(&member.user_id_json).expect("user_id is JSON");
    match id {
        Value::String(s) => assert_eq!(*s, *member.user_id),
        Value::Number(n) => assert_eq!(n.to_string(), *member.user_id),
        other => panic!("user_id {other} is neither a string nor a number"),
    }
    if let Some(info) = &member.user_info_json {
        assert!(is_json(info));
    }
    let members = [member.as_ref()];
    let ack = ServerEvent::PresenceSubscriptionSucceeded {
        channel: "presence-x",
        members: &members,
    }
    .to_json();
    let ack: Value = serde_json::from_str(&ack).expect("the ack is JSON");
    let data = ack["data"].as_str().expect("data is a string");
    let roster: RosterData<'_> = serde_json::from_str(data).expect("the roster");
    let roster = roster.presence;
    assert_eq!(roster.count, 1);
    // `ids` keep the user id's JSON type; `hash` is keyed by its string form.
    assert_eq!(roster.ids.len(), 1);
    assert_eq!(roster.ids[0].get(), &*member.user_id_json);
    let info = roster
        .hash
        .get(&*member.user_id)
        .expect("the member's hash entry");
    assert_eq!(
        info.get(),
        member.user_info_json.as_deref().unwrap_or("null")
    );
    let added = ServerEvent::MemberAdded {
        channel: "presence-x",
        member: member.as_ref(),
    }
    .to_json();
    assert!(is_json_object(&added));
    let wire = serde_json::to_string(&WireMember::from(&member)).expect("wire member");
    let back: WireMember = serde_json::from_str(&wire).expect("wire member reads back");
    assert_eq!(Member::from(back), member);
}

/// A channel name: valid exactly when it matches Pusher's pattern, and a
/// valid name re-parses to itself with a kind its prefix decides.
pub fn channel_name(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let body = text.strip_prefix('#').unwrap_or(text);
    let expected = !body.is_empty()
        && text.len() <= 200
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=@,.;".contains(&b));
    let parsed = ChannelName::parse(text);
    assert_eq!(parsed.is_ok(), expected, "{text:?}: {parsed:?}");
    let Ok(name) = parsed else {
        return;
    };
    assert_eq!(name.as_str(), text);
    assert_eq!(name.to_string(), text);
    assert_eq!(ChannelName::parse(name.as_str()).as_ref(), Ok(&name));
    let kind = name.kind();
    assert_eq!(
        text.starts_with('#'),
        matches!(kind, ChannelKind::ServerToUser | ChannelKind::Reserved)
    );
    if kind == ChannelKind::ServerToUser {
        assert!(name.server_to_user_id().is_some_and(|id| !id.is_empty()));
    }
    if kind == ChannelKind::Presence {
        assert!(text.starts_with("presence-"));
    }
    let _ = name.is_cache();
}

/// The pieces of a fuzz input split on `\n`: at most `n`, the last one
/// taking the rest.
fn pieces(text: &str, n: usize) -> Vec<&str> {
    let mut out: Vec<&str> = text.splitn(n, '\n').collect();
    out.resize(n, "");
    out
}

/// An HTTP API request line, query and body (`METHOD PATH\nQUERY\nBODY`):
/// routed, decoded and signature-checked; and a query signed as the SDKs
/// sign it, carrying the input's parameters, verifies.
pub fn http_query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let [line, query, body] = pieces(&text, 3)[..] else {
        return;
    };
    let (method, path) = line.split_once(' ').unwrap_or(("GET", line));
    let _ = crate::http_api::endpoint(
        &Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
        path,
    );
    for segment in path.split('/') {
        let _ = crate::http_api::decode(segment);
    }
    let params = http_signature::query_params(query);
    let now = 1_700_000_000;
    let request = SignedRequest {
        method,
        path,
        query,
        body: body.as_bytes(),
    };
    let verdict = http_signature::verify(KEY, SECRET, request, now, Some(600));
    if params.iter().any(|(k, _)| k == "auth_signature") {
        let _ = verdict;
    } else {
        assert_eq!(verdict, Err(SignatureError::Missing("auth_signature")));
    }
    let extra: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| !k.starts_with("auth_") && k != "body_md5")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signed =
        http_signature::signed_query(KEY, SECRET, method, path, &extra, body.as_bytes(), now);
    let request = SignedRequest {
        query: &signed,
        ..request
    };
    assert_eq!(
        http_signature::verify(KEY, SECRET, request, now, Some(600)),
        Ok(()),
        "a query signed as the SDKs sign it is refused: {signed}"
    );
    assert_eq!(
        http_signature::verify(KEY, "another-secret", request, now, Some(600)),
        Err(SignatureError::BadSignature)
    );
}

/// A `POST /events` (first byte even) or `/batch_events` (odd) body, read
/// and validated against the development app's limits; every accepted
/// event encodes to a frame that carries its name, channel and data.
pub fn http_body(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let config = AppConfig::development();
    let events = if selector % 2 == 0 {
        crate::http_api::events::read_event(body, &config).map(|e| vec![e])
    } else {
        crate::http_api::events::read_batch(body, &config)
    };
    let Ok(events) = events else {
        return;
    };
    // (Invalid UTF-8 inside a field the API ignores is skipped unread.)
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    assert_eq!(
        first,
        Some(&b'{'),
        "a body that is not an object was accepted"
    );
    for event in &events {
        assert!(!event.name.is_empty() && event.name.len() <= 200);
        assert!(!event.channels.is_empty());
        assert!(event.channels.len() <= config.max_channels_per_event);
        if let Some(except) = event.except {
            assert_eq!(SocketId::parse(&except.to_string()), Some(except));
        }
        for channel in &event.channels {
            let frame = ServerEvent::Published {
                event: &event.name,
                channel: channel.as_str(),
                data: &event.data,
            }
            .to_json();
            let frame: Value = serde_json::from_str(&frame).expect("the frame is JSON");
            assert_eq!(frame["event"], Value::from(event.name.as_str()));
            assert_eq!(frame["channel"], Value::from(channel.as_str()));
            assert_eq!(frame["data"], Value::from(event.data.as_str()));
        }
    }
}

/// A message of the cluster's pub/sub channel, plain or `h{id} `-prefixed:
/// a decoded envelope encodes back to one that decodes to itself, with the
/// same history id.
pub fn redis_envelope(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(id) = EventId::parse(text) {
        assert_eq!(EventId::parse(&id.to_string()), Some(id));
    }
    let Ok((id, envelope)) = envelope::decode(text) else {
        return;
    };
    let _ = envelope.sender();
    let json = serde_json::to_string(&envelope).expect("an envelope encodes");
    let payload = match id {
        Some(id) => format!("h{id} {json}"),
        None => json,
    };
    let again = envelope::decode(&payload).expect("an encoded envelope decodes");
    assert_eq!(again, (id, envelope));
}

/// No file is reachable from the fuzz targets: a configuration that names
/// a certificate or a key gets "not found".
#[derive(Debug)]
struct NoFiles;

impl Files for NoFiles {
    fn open(&self, _: &Path) -> std::io::Result<()> {
        Err(std::io::ErrorKind::NotFound.into())
    }

    fn read(&self, _: &Path) -> std::io::Result<String> {
        Err(std::io::ErrorKind::NotFound.into())
    }
}

/// Loads a configuration; every error is one line.
fn load_text(texts: &Texts<'_>) {
    match load_with(texts, &NoFiles) {
        Ok(config) => {
            assert!(!config.apps.is_empty());
            let _ = format!("{config:?}");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                !message.contains(['\n', '\r']),
                "a configuration error of more than one line: {message:?}"
            );
        }
    }
}

/// A `clarion.toml`: loaded and validated like the file `--config` names.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    load_text(&Texts {
        toml: Some((Path::new("clarion.toml"), text)),
        dotenv: None,
        env: &[],
    });
}

/// Writes `(name, value)` pairs as a `.env` file of double-quoted values.
fn write_dotenv(entries: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in entries {
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '$' => out.push_str("\\$"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push_str("\"\n");
    }
    out
}

/// A Laravel `.env` file: parsed, written back with every value quoted and
/// parsed again to the same pairs, and loaded as `--env-file`.
pub fn dotenv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(entries) = parse_dotenv(text, &HashMap::new()) {
        for (name, _) in &entries {
            assert!(!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()));
            assert!(name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.')));
        }
        let written = write_dotenv(&entries);
        assert_eq!(
            parse_dotenv(&written, &HashMap::new()).as_ref(),
            Ok(&entries),
            "written back as {written:?}"
        );
    }
    load_text(&Texts {
        toml: None,
        dotenv: Some((Path::new(".env"), text)),
        env: &[],
    });
}

/// The auth endpoint's inputs (`TOKEN\nPATH\nBODY`): the bearer token
/// verified with an HS256 secret, the route, both body forms, and channel
/// patterns; a token signed with the secret verifies to its claims.
pub fn jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let [token, path, body] = pieces(&text, 3)[..] else {
        return;
    };
    let verifier = Verifier::new(JwtKey::Secret(SECRET), None, None, None).expect("verifier");
    if let Ok(claims) = verifier.verify(token) {
        assert!(!claims.sub.is_empty());
        let _ = Member::from_channel_data(&claims.channel_data());
    }
    let _ = crate::auth_endpoint::route(path);
    let _ = crate::auth_endpoint::Fields::parse(body.as_bytes(), true);
    let _ = crate::auth_endpoint::Fields::parse(body.as_bytes(), false);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(token) {
        headers.insert(hyper::header::AUTHORIZATION, value);
        let _ = crate::auth_endpoint::bearer(&headers);
    }
    // Patterns: `path` as a pattern, `token` as the user, `body` as the channel.
    let matched = jwt::pattern_matches(path, token, body);
    if !path.contains('*') && !path.contains("{sub}") {
        assert_eq!(matched, path == body);
    }
    if !path.contains("{sub}") {
        assert!(jwt::pattern_matches(path, token, path));
    }
    assert!(jwt::pattern_matches("*", token, body));
    if token.is_empty() {
        return;
    }
    let claims = serde_json::json!({
        "sub": token,
        "channels": [path],
        "exp": 4_000_000_000u64,
    });
    let signed = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("a token encodes");
    let verified = verifier.verify(&signed).expect("a signed token verifies");
    assert_eq!(verified.sub, token);
    assert_eq!(verified.channels, [path]);
}

/// Checks what the dispatcher relies on for one outbox entry: an entry that
/// routes has a body, which is its event with the id in front.
fn check_entry(entry: &Entry) {
    let Some(routing) = entry.routing() else {
        return;
    };
    assert!(
        is_json_object(&entry.event),
        "an event that is not an object routes: {:?}",
        entry.event
    );
    let _ = routing.name.as_str();
    let body = entry.with_id().expect("an entry that routes has a body");
    assert!(is_json_object(&body), "the body is a JSON object: {body}");
    let id = serde_json::to_string(&entry.id).expect("a string");
    assert!(
        body.starts_with(&format!("{{\"id\":{id},")),
        "the entry's id comes first: {body}"
    );
}

/// The webhook outbox reader: a Redis reply (RESP bytes) of `XREADGROUP`
/// or `XAUTOCLAIM`, an outbox file line, and the input as an event.
pub fn webhook_entry(data: &[u8]) {
    use crate::webhooks::outbox::reader;
    if let Ok(value) = redis::parse_redis_value(data) {
        for entry in reader::parse_read(value.clone()) {
            check_entry(&entry);
        }
        for entry in reader::parse_autoclaim(value.clone()) {
            check_entry(&entry);
        }
        for entry in reader::parse_entries(value) {
            check_entry(&entry);
        }
    }
    if let Ok(entry) = serde_json::from_slice::<Entry>(data) {
        check_entry(&entry);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_entry(&Entry {
            key: "1-0".to_owned(),
            app_id: "1".to_owned(),
            id: "e1".to_owned(),
            event: text.to_owned(),
        });
    }
}

/// A field line of an SSE stream as a browser splits them: any of `\r\n`,
/// `\n` or `\r` ends a line.
fn sse_lines(text: &str) -> Vec<&str> {
    text.split("\r\n")
        .flat_map(|l| l.split(['\r', '\n']))
        .collect()
}

/// The SSE endpoint (`QUERY\nLAST-EVENT-ID\nAUTHORIZATION\nFRAME`): the
/// request read from query and headers, the resume id, and a frame written
/// as an SSE event that a browser reads back as one event with its name.
pub fn sse_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let [query, last_id, authorization, frame] = pieces(&text, 4)[..] else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (name, value) in [("last-event-id", last_id), ("authorization", authorization)] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    if let Ok(request) = crate::sse::StreamRequest::read(query, &headers) {
        assert!(!request.channels.is_empty());
        assert!(request.channels.len() <= crate::sse::MAX_CHANNELS);
        for (i, channel) in request.channels.iter().enumerate() {
            assert!(!request.channels[..i].contains(channel));
            assert!(matches!(
                channel.kind(),
                ChannelKind::Public | ChannelKind::Private | ChannelKind::Presence
            ));
        }
        if let Some(id) = request.last_id.as_deref().and_then(EventId::parse) {
            assert_eq!(EventId::parse(&id.to_string()), Some(id));
        }
    }
    for envelope in [false, true] {
        let mut out = String::new();
        crate::sse::write_event(&mut out, &Frame::from(frame), envelope, Some("1-2"));
        if out.is_empty() {
            continue;
        }
        assert!(out.ends_with("\n\n"));
        let lines = sse_lines(&out[..out.len() - 2]);
        let mut events = 0;
        for line in lines {
            assert!(
                line.starts_with("id: ") || line.starts_with("data: ") || {
                    events += 1;
                    line.starts_with("event: ")
                },
                "a stray SSE line {line:?} in {out:?}"
            );
        }
        assert_eq!(events, 1, "one event per frame: {out:?}");
    }
}
