//! The known name a mistyped one most likely meant, for the "did you mean"
//! of an error.

/// The name of `known` that `word` is most likely a typo of: the nearest by
/// edit distance (a swap of two letters counts as one edit), if near enough
/// (one edit, and one more for every five letters of the name).
pub fn closest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(word, k), k))
        .filter(|(distance, k)| *distance <= 1 + k.len() / 5)
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn the_nearest_name_within_reach_is_meant() {
        let known = ["rows", "cols", "socket_dir"];
        assert_eq!(closest("row", known), Some("rows"));
        assert_eq!(closest("socket_dri", known), Some("socket_dir"));
        assert_eq!(closest("sockets_dri", known), Some("socket_dir"));
        assert_eq!(closest("frobnicate", known), None);
        assert_eq!(closest("r", known), None);
    }
}
