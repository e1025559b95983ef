//! Clarion: a WebSocket broadcast server that speaks the Pusher Channels
//! protocol (version 7) and is a drop-in replacement for Laravel Reverb.
//!
//! Module map (dependencies point down this list only):
//!
//! | module | job |
//! |---|---|
//! | [`protocol`] | pure Pusher wire types: client frames in, server frames out, channel kinds, socket ids, error codes |
//! | [`auth`] | HMAC-SHA256 channel/user auth and HTTP API request signatures |
//! | [`config`] | typed configuration from defaults, TOML, `.env` and Reverb's env names |
//! | [`outbound`] | `SocketHandle`: one subscriber's bounded queue of frames, written to its socket |
//! | [`channels`] | the channel registry and presence rosters |
//! | [`lifecycle`] | occupancy and presence transitions for observers |
//! | `limits` | rate buckets (per socket, lock-free per app) and the process's socket budget |
//! | `metrics` | every exported metric, named once: the node's registry and per-app handles |
//! | `apps` | per-app state: channels, cache; `SocketIndex`: sockets, users and their one count |
//! | `adapter` | fan-out and cluster-wide queries: `local` for one node, `redis` for many |
//! | `tls` | `[server.tls]`: the acceptor, certificate reload on SIGHUP, a TLS socket split for direct writes |
//! | [`node`] | state shared by every task of the process |
//! | `subscriptions` | the subscribe/unsubscribe seam: registry, user index, cluster, lifecycle |
//! | `handshake` | the WebSocket opening handshake's checks (version 13 → else 426, a 16-byte key → else 400) |
//! | `connection` | one task per WebSocket; `connection/session.rs` applies its messages |
//! | `http_api` | the signed Pusher REST API |
//! | `sse` | Server-Sent Events streams of the same channels |
//! | `auth_endpoint` | the built-in channel-authorisation endpoint (JWT bearer → channel/user auth), off by default |
//! | `drain` | the timings of a drain: pause, spread, each socket's random close moment |
//! | [`reload`] | SIGHUP: apply a re-read configuration to the running node |
//! | `exporter` | `GET /metrics` on the main listener or a metrics-only one |
//! | `dashboard` | the live operator dashboard: page, snapshot stream, channel inspector |
//! | [`server`] | binding, routing, upgrades, graceful shutdown |
//! | [`shutdown`] | signals, drain tokens and task tracker |
//! | [`trigger`] | `clarion trigger`: one signed `POST /apps/{id}/events` |
//! | `webhooks` | Pusher-format webhooks: facts from the seam, arbitrated per cluster in Redis, batched, signed, retried, dead letters |
//!
//! Modules shown as links are public because the integration tests, the
//! benchmarks or `clarion-bench` use them; the rest are private to the
//! crate (`unreachable_pub` keeps it honest). `protocol`, `auth` and
//! `config` do no IO. For performance reasons the
//! fan-out path allocates nothing per subscriber: an event is encoded once
//! and every subscriber's queue gets a reference-counted clone.

#![warn(missing_docs)]

mod adapter;
mod apps;
pub mod auth;
mod auth_endpoint;
pub mod channels;
pub mod config;
mod connection;
mod dashboard;
mod drain;
mod exporter;
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod http_api;
pub mod lifecycle;
mod limits;
mod metrics;
pub mod node;
pub mod outbound;
pub mod protocol;
pub mod reload;
pub mod server;
pub mod shutdown;
mod sse;
mod subscriptions;
mod tls;
pub mod trigger;
mod webhooks;
