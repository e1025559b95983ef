//! Scenario `floor`: the same load as `fanout` or `client-events`, served by
//! a minimal server inside the bench process instead of the server under
//! test, so that a server's CPU per message and latency can be read as a
//! ratio to the least any server could spend on that pattern on this
//! machine, measured in the same session.
//!
//! ```text
//! clarion-bench floor fanout        -s 2000 -c 10 -r 200 -d 10
//! clarion-bench floor client-events -P 500 -r 10 -d 10
//! ```
//!
//! The minimal server (`floor/server.rs`) runs on one thread of its own
//! (a single-threaded tokio runtime): it answers the WebSocket handshake and
//! `pusher:subscribe` without checks, and on each published event (the
//! bench's own signed HTTP `POST /apps/{id}/events`, not verified) encodes
//! the frame once and makes one non-blocking `write` per subscriber; a
//! client event is forwarded, bytes unchanged, with one `write` to every
//! other member of its channel. The scenario code, the publisher, the
//! receivers and the accounting are those of `fanout` and `client-events`
//! unchanged, so the load is the same; the "server" CPU figures are that
//! thread's own (`/proc/self/task/<tid>/stat`), not the whole process's.

mod server;

use clap::{Args, Subcommand};

use super::client_events::{self, ClientEventsArgs};
use super::fanout::{self, FanoutArgs};
use super::report::Report;
use super::target::Target;
use super::BenchError;

/// Options of `clarion-bench floor`.
#[derive(Debug, Clone, Args)]
pub struct FloorArgs {
    /// The pattern whose floor to measure.
    #[command(subcommand)]
    pub pattern: Pattern,
}

/// A bench pattern served by the minimal server.
#[derive(Debug, Clone, Subcommand)]
pub enum Pattern {
    /// `fanout`'s load: events published over HTTP, written to every subscriber.
    Fanout(FanoutArgs),
    /// `client-events`' load: client events relayed between the members of a channel.
    ClientEvents(ClientEventsArgs),
}

/// Runs the pattern against a fresh minimal server and reports it like the
/// scenario it copies, named `floor-<scenario>`.
pub(crate) async fn run(target: &Target, args: &FloorArgs) -> Result<Report, BenchError> {
    let floor = server::FloorServer::start()
        .map_err(|e| BenchError::Setup(format!("cannot start the floor server: {e}")))?;
    let target = target.serving(floor.addr, floor.stat_path.clone());
    let result = match &args.pattern {
        Pattern::Fanout(a) => fanout::run(&target, a).await,
        Pattern::ClientEvents(a) => client_events::run(&target, a).await,
    };
    floor.stop();
    let mut report = result?;
    let name = match &args.pattern {
        Pattern::Fanout(_) => "floor-fanout",
        Pattern::ClientEvents(_) => "floor-client-events",
    };
    report.set("scenario", name);
    Ok(report)
}
