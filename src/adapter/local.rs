//! The single-node adapter: publishing is local delivery, queries read the
//! local registry.

use async_trait::async_trait;

use super::{Adapter, AdapterError, Reach};
use crate::apps::App;
use crate::channels::{ChannelStats, Member};
use crate::outbound::Frame;
use crate::protocol::{ChannelName, SocketId};

/// Fan-out within this process only.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LocalAdapter;

#[async_trait]
impl Adapter for LocalAdapter {
    fn publish(
        &self,
        app: &App,
        channel: &ChannelName,
        frame: &Frame,
        except: Option<SocketId>,
    ) -> Reach {
        app.deliver(channel, frame, except);
        Reach::Local
    }

    fn terminate_user(&self, app: &App, user_id: &str) -> Reach {
        app.terminate_user(user_id);
        Reach::Local
    }

    async fn channels(
        &self,
        app: &App,
        prefix: &str,
    ) -> Result<Vec<(ChannelName, ChannelStats)>, AdapterError> {
        Ok(app.channels.list(prefix))
    }

    async fn channel(
        &self,
        app: &App,
        channel: &str,
    ) -> Result<Option<ChannelStats>, AdapterError> {
        Ok(app.channels.stats(channel))
    }

    async fn members(&self, app: &App, channel: &str) -> Result<Option<Vec<Member>>, AdapterError> {
        Ok(app.channels.members(channel))
    }

    async fn connections(&self, app: &App) -> Result<usize, AdapterError> {
        Ok(app.connection_count())
    }
}
