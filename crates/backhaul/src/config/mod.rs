//! Configuration: netdata.conf-style main file and exporting.conf.
