//! Tests of the engine with real connectors against the simulators, where a test needs the
//! crate's insides (the store's statement counter) and so cannot live in `tests/api`.

mod answers;
