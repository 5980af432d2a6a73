//! On-balance volume.

/// On-balance volume: a running total of volume, added on up closes and subtracted on
/// down closes.
///
/// # Formula
/// `OBV[0] = Volume[0]`; `OBV[i] = OBV[i−1] + Volume[i]` if `Close[i] > Close[i−1]`,
/// `− Volume[i]` if lower, unchanged if equal. Starting from the first bar's volume
/// (not 0) is TA-Lib's convention; only differences of OBV carry meaning.
///
/// # Warm-up
/// None: defined from index 0. Same as TA-Lib's `OBV`; checked against it.
pub fn obv(close: &[f64], volume: &[f64]) -> Vec<f64> {
    let len = close.len().min(volume.len());
    let mut out = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let mut total = volume[0];
    out.push(total);
    for i in 1..len {
        if close[i] > close[i - 1] {
            total += volume[i];
        } else if close[i] < close[i - 1] {
            total -= volume[i];
        }
        out.push(total);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_on_up_subtracts_on_down() {
        let o = obv(&[1.0, 2.0, 2.0, 1.0], &[10.0, 20.0, 30.0, 5.0]);
        assert_eq!(o, vec![10.0, 30.0, 30.0, 25.0]);
        assert!(obv(&[], &[]).is_empty());
    }
}
