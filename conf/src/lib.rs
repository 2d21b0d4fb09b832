//! edgeship-conf: varnishkafka's configuration file, parsed and validated.
#![forbid(unsafe_code)]
