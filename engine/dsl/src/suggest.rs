//! Did-you-mean: the nearest known name by edit distance.

/// Optimal-string-alignment (restricted Damerau-Levenshtein) distance over
/// chars, case-insensitive.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let (n, m) = (a.len(), b.len());
    // Three rows: i-2, i-1, i.
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

/// The largest distance still worth suggesting for a word of this length:
/// 1 up to 5 chars, 2 up to 9, then 3.
fn max_distance(len: usize) -> usize {
    match len {
        0..=5 => 1,
        6..=9 => 2,
        _ => 3,
    }
}

/// The candidate closest to `word`, if any is close enough. Ties go to the
/// candidate listed first. A case-only difference always wins.
pub(crate) fn best<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    const LIMIT: usize = 64;
    if word.is_empty() || word.chars().count() > LIMIT {
        return None;
    }
    let max = max_distance(word.chars().count());
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word || c.chars().count() > LIMIT {
            continue;
        }
        let d = distance(word, c);
        let ok =
            d <= max || (word.len() >= 4 && c.to_lowercase().starts_with(&word.to_lowercase()));
        if ok && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("cout", "count"), 1);
        assert_eq!(distance("purchse", "purchase"), 1);
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("Country", "country"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn best_match() {
        let c = ["champions", "loyal", "cannot_lose"];
        assert_eq!(best("champion", c).as_deref(), Some("champions"));
        assert_eq!(best("loyl", c).as_deref(), Some("loyal"));
        assert_eq!(best("xyz", c), None);
        assert_eq!(best("segmnt", ["segment", "r"]).as_deref(), Some("segment"));
    }
}
