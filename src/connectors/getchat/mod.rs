//! get.chat WhatsApp Integration API (seed 001): webhook parsing and media download.
