//! The in-process event bus: `publish` hands the event to every subscriber in turn, in the
//! publishing task. A bus made [`InProcessBus::recording`] also keeps a log of what was
//! published, for tests; the one a long-running server uses keeps nothing.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tollgate_domain::ports::EventBus;
use tollgate_domain::{Event, PortError};

type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), PortError>> + Send>>;

/// A subscriber: called with each published event.
pub type Subscriber = Arc<dyn Fn(Event) -> BoxFuture + Send + Sync>;

#[derive(Default, Clone)]
pub struct InProcessBus {
    subscribers: Arc<Mutex<Vec<Subscriber>>>,
    /// `None` unless recording.
    published: Option<Arc<Mutex<Vec<Event>>>>,
}

impl std::fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessBus")
            .field(
                "subscribers",
                &self.subscribers.lock().map(|s| s.len()).unwrap_or(0),
            )
            .finish()
    }
}

impl InProcessBus {
    /// A bus that keeps nothing once it has handed an event on.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus that also logs every event it publishes, for [`InProcessBus::published`].
    pub fn recording() -> Self {
        Self {
            published: Some(Arc::default()),
            ..Self::default()
        }
    }

    pub fn subscribe(&self, subscriber: Subscriber) {
        self.subscribers.lock().expect("bus lock").push(subscriber);
    }

    /// Every event published so far, oldest first; none unless the bus is recording.
    pub fn published(&self) -> Vec<Event> {
        self.published
            .as_ref()
            .map(|log| log.lock().expect("bus lock").clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, event: &Event) -> Result<(), PortError> {
        if let Some(log) = &self.published {
            log.lock().expect("bus lock").push(event.clone());
        }
        let subscribers = self.subscribers.lock().expect("bus lock").clone();
        for subscriber in subscribers {
            subscriber(event.clone()).await?;
        }
        Ok(())
    }
}
