//! Token sampling: temperature, top-k and top-p (nucleus) filtering.
//!
//! All functions operate on the raw logits for a single position. Filters
//! work by setting excluded logits to negative infinity, so the softmax
//! that follows assigns them zero probability.

use std::cmp::Ordering;

/// Small, fast PRNG so that sampling is reproducible for a given seed.
#[derive(Debug, Clone)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        // Zero is a fixed point of xorshift; remap it to a fixed constant.
        let state = if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        };
        XorShift64 { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// Uniform float in [0, 1) built from the top 24 bits.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    pub repetition_penalty: f32,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
        }
    }
}

/// Index of the largest logit; the first one wins on ties.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = probs.iter().sum();
    for p in probs.iter_mut() {
        *p /= sum;
    }
    probs
}

/// Shannon entropy (in nats) of the distribution defined by `logits`.
pub fn entropy(logits: &[f32]) -> f32 {
    softmax(logits)
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| -p * p.ln())
        .sum()
}

fn indices_by_desc(values: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].partial_cmp(&values[a]).unwrap_or(Ordering::Equal));
    idx
}

/// Penalizes tokens that already appear in `history`: positive logits are
/// divided by `penalty` and negative ones multiplied by it.
pub fn apply_repetition_penalty(logits: &mut [f32], history: &[u32], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let mut seen = vec![false; logits.len()];
    for &t in history {
        if let Some(s) = seen.get_mut(t as usize) {
            *s = true;
        }
    }
    for (l, &s) in logits.iter_mut().zip(seen.iter()) {
        if s {
            *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

/// Keeps the `k` largest logits; `k == 0` disables the filter.
pub fn top_k_mask(logits: &mut [f32], k: usize) {
    if k == 0 || k >= logits.len() {
        return;
    }
    let idx = indices_by_desc(logits);
    for &i in &idx[k..] {
        logits[i] = f32::NEG_INFINITY;
    }
}

/// Keeps the smallest set of most likely tokens whose probability mass
/// reaches `p`; `p >= 1.0` disables the filter.
pub fn top_p_mask(logits: &mut [f32], p: f32) {
    if p >= 1.0 {
        return;
    }
    let probs = softmax(logits);
    let idx = indices_by_desc(&probs);
    let mut mass = 0.0;
    let mut cut = idx.len();
    for (rank, &i) in idx.iter().enumerate() {
        mass += probs[i];
        if mass >= p {
            cut = rank + 1;
            break;
        }
    }
    for &i in &idx[cut..] {
        logits[i] = f32::NEG_INFINITY;
    }
}

fn sample_from(probs: &[f32], rng: &mut XorShift64) -> u32 {
    let r = rng.next_f32();
    let mut acc = 0.0;
    for (i, &p) in probs.iter().enumerate() {
        acc += p;
        if r < acc {
            return i as u32;
        }
    }
    // Rounding can leave `acc` slightly below 1.0; fall back to the last
    // token that has non-zero probability.
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0) as u32
}

/// Samples one token id from `logits` according to `params`. A temperature
/// of zero (or below) means greedy decoding.
pub fn sample(
    logits: &[f32],
    history: &[u32],
    params: &SamplingParams,
    rng: &mut XorShift64,
) -> u32 {
    let mut work = logits.to_vec();
    apply_repetition_penalty(&mut work, history, params.repetition_penalty);
    if params.temperature <= 0.0 {
        return argmax(&work);
    }
    for l in work.iter_mut() {
        *l /= params.temperature;
    }
    top_k_mask(&mut work, params.top_k);
    top_p_mask(&mut work, params.top_p);
    let probs = softmax(&work);
    sample_from(&probs, rng)
}

/// Samples one token per row, drawing from a single RNG stream in row order.
pub fn sample_batch(
    rows: &[Vec<f32>],
    histories: &[Vec<u32>],
    params: &SamplingParams,
    rng: &mut XorShift64,
) -> Vec<u32> {
    assert_eq!(rows.len(), histories.len(), "one history per row");
    rows.iter()
        .zip(histories)
        .map(|(row, hist)| sample(row, hist, params, rng))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32, top_k: usize, top_p: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            top_k,
            top_p,
            ..SamplingParams::default()
        }
    }

    #[test]
    fn greedy_picks_argmax() {
        let mut rng = XorShift64::new(1);
        let logits = [0.1, 2.5, -1.0, 2.4];
        assert_eq!(sample(&logits, &[], &params(0.0, 0, 1.0), &mut rng), 1);
    }

    #[test]
    fn top_k_one_is_greedy() {
        let mut rng = XorShift64::new(7);
        let logits = [0.3, 0.2, 3.0, 0.1];
        for _ in 0..20 {
            assert_eq!(sample(&logits, &[], &params(1.0, 1, 1.0), &mut rng), 2);
        }
    }

    #[test]
    fn top_p_masks_tail() {
        let mut logits = vec![5.0, 4.0, -10.0, -10.0];
        top_p_mask(&mut logits, 0.9);
        assert!(logits[2].is_infinite() && logits[3].is_infinite());
        assert!(logits[0].is_finite() && logits[1].is_finite());
    }

    #[test]
    fn repetition_penalty_lowers_seen_tokens() {
        let mut logits = vec![2.0, -2.0, 1.0];
        apply_repetition_penalty(&mut logits, &[0, 1], 2.0);
        assert_eq!(logits, vec![1.0, -4.0, 1.0]);
    }

    #[test]
    fn batch_is_deterministic_for_seed() {
        let rows = vec![vec![0.0, 0.1, 0.2], vec![1.0, 1.0, 1.0]];
        let hist = vec![vec![], vec![2]];
        let p = params(0.8, 0, 1.0);
        let a = sample_batch(&rows, &hist, &p, &mut XorShift64::new(42));
        let b = sample_batch(&rows, &hist, &p, &mut XorShift64::new(42));
        assert_eq!(a, b);
    }

    #[test]
    fn entropy_of_uniform() {
        let h = entropy(&[0.0, 0.0, 0.0, 0.0]);
        assert!((h - 4f32.ln()).abs() < 1e-5);
    }
}
