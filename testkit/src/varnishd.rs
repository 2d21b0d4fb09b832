//! A private varnishd on loopback with its own work directory, stopped on drop.
