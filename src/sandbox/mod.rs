//! sandbox
pub mod inbenta;
