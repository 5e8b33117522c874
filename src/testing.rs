//! What the integration tests need from inside the crate and nothing else does. Not part of
//! the program's interface: hidden from the documentation, and may change at any time.

pub use crate::throttle::ManualClock;
