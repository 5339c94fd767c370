//! The train / validation / test split of a dataset version. Each row's part is decided by a hash
//! of the seed and the row's position alone, so a split is frozen (the same rows every time, in
//! any process) and easy to reproduce elsewhere (`tests/fixtures/baselines/make.py` does it in
//! Python to score scikit-learn on the same rows).

use std::path::Path;

use polars::prelude::*;
use tollgate_domain::pipeline::Split;

use crate::ValidationError;
use crate::read::write_parquet;

/// SplitMix64's finalizer: a fixed, well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The part of row `row`: 0 train, 1 validation, 2 test.
pub fn part_of(split: &Split, row: u64) -> u8 {
    let u = (mix(split.seed ^ mix(row)) >> 11) as f64 / (1u64 << 53) as f64;
    if u < split.train {
        0
    } else if u < split.train + split.validation {
        1
    } else {
        2
    }
}

/// The three parts of a Parquet file (train, validation, test), as Parquet in temporary files.
#[derive(Debug)]
pub struct SplitParts {
    pub files: [tempfile::NamedTempFile; 3],
    pub rows: [u64; 3],
}

/// Splits a version's data (its Parquet file, or its parts in order) into temporary files in
/// `dir`.
pub fn split_parquet(
    inputs: &[&Path],
    split: &Split,
    dir: &Path,
) -> Result<SplitParts, ValidationError> {
    let shown = inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let polars = |context: &str| {
        let context = format!("{context} {shown}");
        move |source| ValidationError::Polars { context, source }
    };
    let mut frames = Vec::with_capacity(inputs.len());
    for input in inputs {
        let file =
            std::fs::File::open(input).map_err(|e| ValidationError::io("opening", input, e))?;
        frames.push(
            ParquetReader::new(file)
                .finish()
                .map_err(polars("reading"))?
                .lazy(),
        );
    }
    // A version in parts (a processing job's instances wrote one each) is its parts in order;
    // a column one part holds as integers and another as floats is floats.
    let frame = concat(
        frames,
        UnionArgs {
            to_supertypes: true,
            ..Default::default()
        },
    )
    .and_then(LazyFrame::collect)
    .map_err(polars("joining"))?;
    let parts: Vec<u8> = (0..frame.height() as u64)
        .map(|r| part_of(split, r))
        .collect();
    let mut rows = [0; 3];
    let mut write = |part: u8| {
        let mask: BooleanChunked = parts.iter().map(|p| *p == part).collect();
        let mut chosen = frame.filter(&mask).map_err(polars("splitting"))?;
        rows[part as usize] = chosen.height() as u64;
        write_parquet(&mut chosen, dir)
    };
    let files = [write(0)?, write(1)?, write(2)?];
    Ok(SplitParts { files, rows })
}

/// A Parquet file without its `column` (the test rows without their target, as a training
/// job is given them), as Parquet in a temporary file in `dir`. A file without the column is
/// copied as it is.
pub fn without_column(
    input: &Path,
    column: &str,
    dir: &Path,
) -> Result<tempfile::NamedTempFile, ValidationError> {
    let polars = |context: &str| {
        let context = format!("{context} {}", input.display());
        move |source| ValidationError::Polars { context, source }
    };
    let file = std::fs::File::open(input).map_err(|e| ValidationError::io("opening", input, e))?;
    let mut frame = ParquetReader::new(file)
        .finish()
        .map_err(polars("reading"))?;
    if frame.column(column).is_ok() {
        frame = frame
            .drop(column)
            .map_err(polars("dropping the target from"))?;
    }
    write_parquet(&mut frame, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_the_fractions_and_the_seed() {
        let split = Split {
            train: 0.7,
            validation: 0.15,
            test: 0.15,
            seed: 3,
        };
        let mut counts = [0u32; 3];
        (0..100_000).for_each(|r| counts[part_of(&split, r) as usize] += 1);
        assert!((69_000..71_000).contains(&counts[0]), "{counts:?}");
        assert!((14_000..16_000).contains(&counts[2]), "{counts:?}");
        let other = Split {
            seed: 4,
            ..split.clone()
        };
        assert!((0..100).any(|r| part_of(&split, r) != part_of(&other, r)));
        // Pinned, so a change to the hash (which would unfreeze every split) fails here.
        let first: Vec<u8> = (0..12).map(|r| part_of(&split, r)).collect();
        assert_eq!(first, PINNED);
    }

    const PINNED: [u8; 12] = [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1];
}
