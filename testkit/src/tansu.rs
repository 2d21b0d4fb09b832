//! A tansu Kafka-protocol broker on loopback with memory storage, stopped on drop.
