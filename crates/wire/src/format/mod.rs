//! Metric line encoders: graphite plaintext, opentsdb telnet, json lines.
