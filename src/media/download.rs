//! Reading a file download with a size limit.

use super::types::choose_mime;
use crate::domain::MediaFile;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};

/// A downloaded body with the headers that name it.
pub struct Download {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
}

impl Download {
    /// The file, typed by [`choose_mime`] (answer, `announced` type, `own_name`, content) and
    /// named `own_name`, else what `fallback` makes of the chosen type.
    pub fn into_file(
        self,
        announced: Option<&str>,
        own_name: Option<String>,
        fallback: impl FnOnce(&str) -> String,
    ) -> MediaFile {
        let mime_type = choose_mime(
            self.content_type.as_deref(),
            announced,
            own_name.as_deref(),
            &self.bytes,
        );
        let filename = own_name.unwrap_or_else(|| fallback(&mime_type));
        MediaFile {
            filename,
            mime_type,
            bytes: self.bytes,
        }
    }
}

/// Why a download stopped.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// More than the limit: `size` is the announced length, or what had arrived when the body
    /// passed the limit.
    #[error("the file is larger than allowed (at least {size} bytes)")]
    TooLarge { size: u64 },
    /// The body could not be read.
    #[error("reading the file failed")]
    Body(#[source] reqwest::Error),
}

/// Read `response`'s body, refusing more than `max` bytes: up front when `Content-Length` says
/// so, else as soon as the body grows past it.
pub async fn read_limited(
    mut response: reqwest::Response,
    max: u64,
) -> Result<Download, DownloadError> {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE);
    let content_disposition = header(CONTENT_DISPOSITION);
    let announced = header(CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(size) = announced.filter(|&length| length > max) {
        return Err(DownloadError::TooLarge { size });
    }
    let mut bytes =
        Vec::with_capacity(usize::try_from(announced.unwrap_or(0).min(max)).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(DownloadError::Body)? {
        let size = bytes.len() as u64 + chunk.len() as u64;
        if size > max {
            return Err(DownloadError::TooLarge { size });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Download {
        bytes,
        content_type,
        content_disposition,
    })
}
