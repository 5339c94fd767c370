//! EventBus on an EventBridge custom bus. Each event goes out as the JSON the handlers already
//! exchange: `source` is `tollgate`, `detail-type` the event's name and `detail` its fields, so a
//! rule delivers to a function exactly what the in-process bus hands to a handler.

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use tollgate_domain::events::EVENT_SOURCE;
use tollgate_domain::ports::EventBus;
use tollgate_domain::{Event, PortError};

use crate::AwsConfig;
use crate::error::port_error;

/// EventBridge refuses entries over 256 KB.
const MAX_ENTRY: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    /// Publishes to the bus named (or whose ARN is) `bus`.
    pub fn new(config: &AwsConfig, bus: impl Into<String>) -> Self {
        Self {
            client: Client::new(&config.sdk),
            bus: bus.into(),
        }
    }
}

/// The `detail` of `event`: its fields, without the tag.
pub fn detail_of(event: &Event) -> Result<String, PortError> {
    let mut value =
        serde_json::to_value(event).map_err(|e| PortError::other("encoding an event", e))?;
    let detail = value
        .get_mut("detail")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    Ok(detail.to_string())
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, event: &Event) -> Result<(), PortError> {
        let detail = detail_of(event)?;
        if detail.len() > MAX_ENTRY {
            return Err(PortError::Invalid(format!(
                "event {} is {} KB, over EventBridge's 256 KB",
                event.detail_type(),
                detail.len() / 1024
            )));
        }
        let what = format!("publishing {} on bus {}", event.detail_type(), self.bus);
        let out = self
            .client
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(EVENT_SOURCE)
                    .detail_type(event.detail_type())
                    .detail(detail)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| port_error(&what, e))?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| {
                    Some(format!(
                        "{}: {}",
                        e.error_code()?,
                        e.error_message().unwrap_or_default()
                    ))
                })
                .collect::<Vec<_>>()
                .join("; ");
            // A failed entry is EventBridge's to explain; throttling is the usual cause.
            return Err(PortError::unavailable(
                what,
                std::io::Error::other(format!("the entry was not accepted: {why}")),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tollgate_domain::UserId;

    use super::*;

    #[test]
    fn the_detail_is_the_event_without_its_tag() {
        let event = Event::RunRequested {
            pipeline: "churn".into(),
            dataset_version: Some(3),
            requested_by: UserId::parse("ana").unwrap(),
            request_id: "r-1".into(),
        };
        let detail: serde_json::Value = serde_json::from_str(&detail_of(&event).unwrap()).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({"pipeline": "churn", "dataset_version": 3,
                               "requested_by": "ana", "request_id": "r-1"})
        );
    }
}
