//! `Debug` for the configuration types that hold secrets: every field but
//! the secret, which prints as `***` (an app's `secret`, a webhook's header
//! values, the Redis password and a URL's user-info). Nothing logs a
//! configuration today; this keeps a future `?config` from leaking one.
//! Each impl destructures its struct, so a new field cannot be forgotten.

use std::fmt;

use super::{AppConfig, ScalingConfig, WebhookConfig};

const HIDDEN: &str = "***";

/// `scheme://user:pass@host/…` → `scheme://***@host/…`.
fn mask_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}{HIDDEN}{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for AppConfig {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AppConfig {
            id,
            key,
            secret: _,
            ping_interval,
            activity_timeout,
            max_connections,
            max_message_size,
            accept_client_events_from,
            client_events_on_public_channels,
            allowed_origins,
            rate_limiting,
            user_authentication_timeout,
            subscription_count_events,
            max_event_payload,
            max_channels_per_event,
            max_batch_size,
            event_history,
            event_history_max_age,
            auth,
            webhooks,
            max_channels_per_socket,
            max_presence_members,
            max_user_info_bytes,
            client_events_per_second,
            subscriptions_per_second,
            http_api_requests_per_second,
        } = self;
        f.debug_struct("AppConfig")
            .field("id", id)
            .field("key", key)
            .field("secret", &HIDDEN)
            .field("ping_interval", ping_interval)
            .field("activity_timeout", activity_timeout)
            .field("max_connections", max_connections)
            .field("max_message_size", max_message_size)
            .field("accept_client_events_from", accept_client_events_from)
            .field(
                "client_events_on_public_channels",
                client_events_on_public_channels,
            )
            .field("allowed_origins", allowed_origins)
            .field("rate_limiting", rate_limiting)
            .field("user_authentication_timeout", user_authentication_timeout)
            .field("subscription_count_events", subscription_count_events)
            .field("max_event_payload", max_event_payload)
            .field("max_channels_per_event", max_channels_per_event)
            .field("max_batch_size", max_batch_size)
            .field("event_history", event_history)
            .field("event_history_max_age", event_history_max_age)
            .field("auth", auth)
            .field("webhooks", webhooks)
            .field("max_channels_per_socket", max_channels_per_socket)
            .field("max_presence_members", max_presence_members)
            .field("max_user_info_bytes", max_user_info_bytes)
            .field("client_events_per_second", client_events_per_second)
            .field("subscriptions_per_second", subscriptions_per_second)
            .field("http_api_requests_per_second", http_api_requests_per_second)
            .finish()
    }
}

impl fmt::Debug for WebhookConfig {
    /// Header names only (a header often carries a token); the URL without
    /// its user-info.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let WebhookConfig {
            url,
            event_types,
            filter,
            headers,
        } = self;
        f.debug_struct("WebhookConfig")
            .field("url", &mask_url(url))
            .field("event_types", event_types)
            .field("filter", filter)
            .field("headers", &headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Debug for ScalingConfig {
    /// Never prints the password, in its field or in the URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ScalingConfig {
            enabled,
            channel,
            url,
            host,
            port,
            username,
            password,
            database,
            tls,
            query_timeout_ms,
            heartbeat_interval_ms,
            node_timeout_ms,
            routing,
            cluster_nodes,
        } = self;
        let cluster_nodes: Vec<String> = cluster_nodes.iter().map(|u| mask_url(u)).collect();
        f.debug_struct("ScalingConfig")
            .field("enabled", enabled)
            .field("channel", channel)
            .field("url", &url.as_deref().map(mask_url))
            .field("host", host)
            .field("port", port)
            .field("username", username)
            .field("password", &password.as_ref().map(|_| HIDDEN))
            .field("database", database)
            .field("tls", tls)
            .field("query_timeout_ms", query_timeout_ms)
            .field("heartbeat_interval_ms", heartbeat_interval_ms)
            .field("node_timeout_ms", node_timeout_ms)
            .field("routing", routing)
            .field("cluster_nodes", &cluster_nodes)
            .finish()
    }
}
