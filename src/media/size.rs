//! Sizes for people to read.

/// "512 bytes", "3.4 KB", "100 MB" (binary units; a whole number loses its ".0").
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let value = bytes as f64;
    let (scaled, unit) = if bytes < 1024 {
        return format!("{bytes} bytes");
    } else if value < KB * KB {
        (value / KB, "KB")
    } else if value < KB * KB * KB {
        (value / (KB * KB), "MB")
    } else {
        (value / (KB * KB * KB), "GB")
    };
    let text = format!("{scaled:.1}");
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_in_the_largest_fitting_unit() {
        assert_eq!(human_size(10), "10 bytes");
        assert_eq!(human_size(3 * 1024 + 400), "3.4 KB");
        assert_eq!(human_size(100 * 1024 * 1024), "100 MB");
        assert_eq!(human_size(12 * 1024 * 1024 + 300 * 1024), "12.3 MB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3 GB");
    }
}
