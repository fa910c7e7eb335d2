//! `WsTransport`: frames to and from one WebSocket.

use crate::hub::Outbound;
use crate::realtime::{Closed, Inbound, Transport, TransportKind};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use std::time::Duration;

/// One WebSocket under a `realtime::Client`.
pub struct WsTransport {
    socket: WebSocket,
}

impl WsTransport {
    /// Wraps an upgraded socket.
    pub fn new(socket: WebSocket) -> WsTransport {
        WsTransport { socket }
    }
}

impl Transport for WsTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::WebSocket
    }

    async fn feed(&mut self, frame: Outbound) -> Result<(), Closed> {
        self.socket
            .feed(Message::Text(frame.into_frame()))
            .await
            .map_err(|_| Closed)
    }

    async fn flush(&mut self) -> Result<(), Closed> {
        self.socket.flush().await.map_err(|_| Closed)
    }

    async fn recv(&mut self) -> Option<Inbound> {
        match self.socket.recv().await? {
            Ok(Message::Text(t)) => Some(Inbound::Text(t)),
            Ok(Message::Binary(_)) => Some(Inbound::Binary),
            Ok(Message::Close(_)) => None,
            Ok(Message::Ping(_) | Message::Pong(_)) => Some(Inbound::Activity),
            Err(e) => {
                let text = e.to_string();
                if text.contains("too long") || text.contains("Space limit") {
                    Some(Inbound::TooBig)
                } else {
                    None
                }
            }
        }
    }

    async fn ping(&mut self) -> Result<(), Closed> {
        self.socket
            .send(Message::Ping(bytes::Bytes::new()))
            .await
            .map_err(|_| Closed)
    }

    async fn close(&mut self, code: u16) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(""),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.send(Message::Close(Some(frame)))).await;
        // Read until the peer answers the close (or briefly), so input still in
        // flight does not turn our close into a TCP reset that loses the frame.
        let drain = async {
            while let Some(Ok(m)) = self.socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    }
}
