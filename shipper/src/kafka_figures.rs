//! The figures of librdkafka's statistics the metrics server exports: the local queue's
//! messages and bytes, and each broker's state and round-trip time. librdkafka sends its
//! statistics every `statistics.interval.ms`; they are parsed then (not at scrape time, not
//! per record) and the figures kept until the next ones. Only the fields used are read, so a
//! librdkafka that adds or drops others changes nothing here.

use std::sync::{Mutex, PoisonError};

use serde_json::Value;

/// One broker as librdkafka's last statistics saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerFigures {
    /// librdkafka's name for it (`host:port/id`).
    pub name: String,
    /// Its connection state (`UP`, `DOWN`, `CONNECT`, ...).
    pub state: String,
    /// The average round-trip time of its requests over the last window, in microseconds
    /// (none before any request).
    pub rtt_micros: Option<i64>,
}

/// The local queue and the brokers, as of librdkafka's last statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// Messages in the producer's queues (waiting, in flight).
    pub queue_messages: u64,
    /// Their bytes.
    pub queue_bytes: u64,
    /// Every broker librdkafka knows of, by name.
    pub brokers: Vec<BrokerFigures>,
}

/// The last figures, or none before librdkafka's first statistics.
#[derive(Debug, Default)]
pub struct KafkaFigures {
    last: Mutex<Option<Figures>>,
}

impl KafkaFigures {
    /// Keeps the figures of one statistics object; one that cannot be read leaves the last
    /// figures as they were (the statistics file still gets it as it came).
    pub fn update(&self, statistics: &[u8]) {
        let Ok(parsed) = serde_json::from_slice::<Value>(statistics) else {
            return;
        };
        let count = |name: &str| parsed.get(name).and_then(Value::as_u64).unwrap_or(0);
        let mut brokers: Vec<BrokerFigures> = parsed
            .get("brokers")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|brokers| brokers.iter())
            .map(|(name, broker)| BrokerFigures {
                name: name.clone(),
                state: broker
                    .get("state")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned(),
                rtt_micros: broker
                    .get("rtt")
                    .and_then(|rtt| rtt.get("avg"))
                    .and_then(Value::as_i64),
            })
            .collect();
        brokers.sort_by(|a, b| a.name.cmp(&b.name));
        let figures = Figures {
            queue_messages: count("msg_cnt"),
            queue_bytes: count("msg_size"),
            brokers,
        };
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(figures);
    }

    /// The last figures, if librdkafka has sent statistics.
    pub fn last(&self) -> Option<Figures> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
