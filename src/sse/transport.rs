//! `SseTransport`: frames into a `text/event-stream` body. Each frame becomes
//! one SSE event named after the message (`created`/`updated`/`deleted` for
//! change events, else the message `type`), with the seq as its id where the
//! frame has one, so `Last-Event-ID` resumes exactly after it.

use crate::hub::Outbound;
use crate::protocol::sse_fields;
use crate::realtime::{Closed, Inbound, Transport, TransportKind};
use axum::response::sse::Event;
use tokio::sync::mpsc;

/// One event stream under a `realtime::Client`.
pub struct SseTransport {
    out: mpsc::Sender<Event>,
}

impl SseTransport {
    /// Writes into the channel the response body reads.
    pub fn new(out: mpsc::Sender<Event>) -> SseTransport {
        SseTransport { out }
    }
}

fn to_event(frame: Outbound) -> Event {
    match frame {
        Outbound::Event { prefix, tail } => {
            let (event, seq) = (tail.event, tail.seq);
            let frame = Outbound::Event { prefix, tail }.into_frame();
            Event::default().event(event).id(seq.to_string()).data(frame.as_str())
        }
        Outbound::Frame(text) => {
            let (name, id) = sse_fields(&text);
            let e = Event::default().event(name).data(text.as_str());
            match id {
                Some(seq) => e.id(seq.to_string()),
                None => e,
            }
        }
    }
}

impl Transport for SseTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Sse
    }

    async fn feed(&mut self, frame: Outbound) -> Result<(), Closed> {
        self.out.send(to_event(frame)).await.map_err(|_| Closed)
    }

    async fn flush(&mut self) -> Result<(), Closed> {
        Ok(())
    }

    async fn recv(&mut self) -> Option<Inbound> {
        // One-way: nothing arrives; the stream's reader going away ends it.
        self.out.closed().await;
        None
    }

    async fn ping(&mut self) -> Result<(), Closed> {
        Ok(())
    }

    async fn close(&mut self, _code: u16) {
        // Dropping the sender ends the response body.
    }
}
