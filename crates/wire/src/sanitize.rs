//! Name and label sanitizers for each wire format.
