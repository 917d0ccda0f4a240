//! Fake GitHub server (built in a later step).
