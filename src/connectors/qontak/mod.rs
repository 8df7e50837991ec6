//! Qontak Omnichannel (seed 003): rooms as conversations, OAuth tokens that rotate.
