//! sandbox
pub mod getchat;
pub mod inbenta;
