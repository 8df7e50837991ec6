//! Files the bridge carries between vendors: what type a file is ([`types`], [`sniff`]), what
//! it is called ([`names`]), how big it is ([`size`]) and reading a download without holding
//! more than a limit in memory ([`download`]). Nothing here knows a vendor; the connectors call
//! it. A later transcoding step belongs here too.

pub mod download;
pub mod names;
pub mod size;
pub mod sniff;
pub mod types;

pub use download::{Download, DownloadError, read_limited};
pub use names::{
    clean_filename, disposition_filename, fallback_filename, percent_decode, url_filename,
};
pub use size::human_size;
pub use sniff::sniff;
pub use types::{OCTET_STREAM, choose_mime, essence, extension_for, kind_of, mime_for_name};
