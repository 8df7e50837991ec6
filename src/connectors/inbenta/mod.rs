//! Inbenta Messenger API (seed 004): users, tickets, replies and media.
