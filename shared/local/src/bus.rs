//! The in-process event bus: `publish` hands the event to every subscriber in turn, in the
//! publishing task, and keeps a log of what was published.

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
    published: Arc<Mutex<Vec<Event>>>,
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
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&self, subscriber: Subscriber) {
        self.subscribers.lock().expect("bus lock").push(subscriber);
    }

    /// Every event published so far, oldest first.
    pub fn published(&self) -> Vec<Event> {
        self.published.lock().expect("bus lock").clone()
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, event: &Event) -> Result<(), PortError> {
        self.published.lock().expect("bus lock").push(event.clone());
        let subscribers = self.subscribers.lock().expect("bus lock").clone();
        for subscriber in subscribers {
            subscriber(event.clone()).await?;
        }
        Ok(())
    }
}
