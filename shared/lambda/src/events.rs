//! The EventBridge envelope, and what a function makes of it.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use jiff::Timestamp;
use serde_json::Value;
use tollgate_domain::Event;
use tollgate_domain::events::EVENT_SOURCE;

/// The detail-type of SageMaker's event when an endpoint changes status.
pub const ENDPOINT_STATE_CHANGE: &str = "SageMaker Endpoint State Change";

/// What arrived on EventBridge.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// One of Tollgate's events, or SageMaker's training job state change (the same shape).
    Event(Box<Event>),
    /// A schedule fired at `at`; `detail` is what the schedule was set to send (`{}` for a rule).
    Scheduled { at: Timestamp, detail: Value },
    /// SageMaker's "SageMaker Endpoint State Change": the endpoint named changed status (what
    /// it is now is read from SageMaker, not from the event, which may be late or repeated).
    EndpointChanged { endpoint: String },
    /// Something no Tollgate function handles: logged and answered.
    Ignored { source: String, detail_type: String },
}

/// Reads an EventBridge event. A Tollgate detail-type from a source other than `tollgate` (or
/// `aws.sagemaker` for training jobs) is ignored: only Tollgate publishes on its bus.
pub fn incoming(envelope: EventBridgeEvent<Value>) -> Result<Incoming, serde_json::Error> {
    let EventBridgeEvent {
        detail_type,
        source,
        time,
        detail,
        ..
    } = envelope;
    if detail_type == "Scheduled Event" && matches!(source.as_str(), "aws.events" | "aws.scheduler")
    {
        let at = time
            .and_then(|t| Timestamp::from_millisecond(t.timestamp_millis()).ok())
            .unwrap_or_else(Timestamp::now);
        return Ok(Incoming::Scheduled { at, detail });
    }
    if source == "aws.sagemaker" && detail_type == ENDPOINT_STATE_CHANGE {
        return match detail["EndpointName"].as_str() {
            Some(name) => Ok(Incoming::EndpointChanged {
                endpoint: name.to_owned(),
            }),
            None => Err(serde::de::Error::custom(format!(
                "{ENDPOINT_STATE_CHANGE} without an EndpointName: {detail}"
            ))),
        };
    }
    let trusted = source == EVENT_SOURCE
        || (source == "aws.sagemaker" && detail_type == "SageMaker Training Job State Change");
    if !trusted {
        return Ok(Incoming::Ignored {
            source,
            detail_type,
        });
    }
    let tagged = serde_json::json!({ "detail-type": detail_type, "detail": detail });
    match serde_json::from_value::<Event>(tagged) {
        Ok(event) => Ok(Incoming::Event(Box::new(event))),
        // A detail-type Tollgate does not know, from its own source: a newer publisher.
        Err(_) if !Event::DETAIL_TYPES.contains(&detail_type.as_str()) => Ok(Incoming::Ignored {
            source,
            detail_type,
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(json: Value) -> EventBridgeEvent<Value> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_tollgate_event_reads_as_the_domain_event() {
        let got = incoming(envelope(serde_json::json!({
            "version": "0", "id": "1", "detail-type": "RunRequested", "source": "tollgate",
            "account": "123456789012", "time": "2026-12-01T10:00:00Z", "region": "eu-west-1",
            "resources": [],
            "detail": {"pipeline": "churn", "requested_by": "ana", "request_id": "r1"}
        })))
        .unwrap();
        let Incoming::Event(event) = got else {
            panic!("{got:?}")
        };
        assert!(matches!(*event, Event::RunRequested { ref pipeline, .. } if pipeline == "churn"));
    }

    #[test]
    fn a_tollgate_detail_type_from_another_source_is_ignored() {
        let got = incoming(envelope(serde_json::json!({
            "detail-type": "ModelStageChanged", "source": "someone.else", "detail": {}
        })))
        .unwrap();
        assert!(matches!(got, Incoming::Ignored { .. }));
    }

    #[test]
    fn a_schedule_reads_with_its_time_and_detail() {
        let got = incoming(envelope(serde_json::json!({
            "detail-type": "Scheduled Event", "source": "aws.events",
            "time": "2026-12-01T06:00:00Z", "detail": {}
        })))
        .unwrap();
        let Incoming::Scheduled { at, .. } = got else {
            panic!("{got:?}")
        };
        assert_eq!(at.to_string(), "2026-12-01T06:00:00Z");
    }

    #[test]
    fn an_endpoint_state_change_names_its_endpoint() {
        let got = incoming(envelope(serde_json::json!({
            "detail-type": "SageMaker Endpoint State Change", "source": "aws.sagemaker",
            "detail": {"EndpointName": "tg-wine", "EndpointStatus": "IN_SERVICE", "Tags": {}}
        })))
        .unwrap();
        assert_eq!(
            got,
            Incoming::EndpointChanged {
                endpoint: "tg-wine".into()
            }
        );
        let nameless = incoming(envelope(serde_json::json!({
            "detail-type": "SageMaker Endpoint State Change", "source": "aws.sagemaker",
            "detail": {}
        })));
        assert!(nameless.is_err());
    }

    #[test]
    fn a_malformed_known_event_is_an_error() {
        let got = incoming(envelope(serde_json::json!({
            "detail-type": "RunRequested", "source": "tollgate", "detail": {"pipeline": 3}
        })));
        assert!(got.is_err());
    }
}
