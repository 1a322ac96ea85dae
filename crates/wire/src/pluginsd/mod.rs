//! The netdata plugins.d text protocol: line framing and command parsing.
