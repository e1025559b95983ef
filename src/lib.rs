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
//! | [`outbound`] | `SocketHandle`: one subscriber's bounded queue of frames |
//! | [`channels`] | the channel registry and presence rosters |
//! | [`lifecycle`] | occupancy and presence transitions for observers |
//! | [`apps`] | per-app state: channels, sockets, users, cache |
//! | [`adapter`] | fan-out and cluster-wide queries (local now; Redis plugs in here) |
//! | [`node`] | state shared by every task of the process |
//! | `subscriptions` | the subscribe/unsubscribe seam: registry, user index, cluster, lifecycle |
//! | [`connection`] | one task per WebSocket |
//! | [`http_api`] | the signed Pusher REST API |
//! | [`server`] | binding, routing, upgrades, graceful shutdown |
//! | [`shutdown`] | signals, cancellation token and task tracker |
//!
//! `protocol`, `auth` and `config` do no IO. For performance reasons the
//! fan-out path allocates nothing per subscriber: an event is encoded once
//! and every subscriber's queue gets a reference-counted clone.

#![warn(missing_docs)]

mod adapter;
mod apps;
pub mod auth;
pub mod channels;
pub mod config;
mod connection;
mod http_api;
pub mod lifecycle;
pub mod node;
pub mod outbound;
pub mod protocol;
pub mod server;
pub mod shutdown;
mod subscriptions;
