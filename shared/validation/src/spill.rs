//! A unique column's values, held in bounded memory: past a window of values, the window goes
//! to disk as a run sorted by value (each value with the row it was first seen in), and the
//! runs are merged once, at the end, to find the values repeated across windows. Memory holds
//! one window and one value per run, whatever the rows; the disk holds 16 bytes a row for
//! integers (an external sort, as a database spills a `DISTINCT` that does not fit).

use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::hash::Hash;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

/// Values a unique column keeps in memory before they go to a run: about 64 MB of integers
/// with their rows (and their hash table's slack).
pub(crate) const WINDOW: usize = 2_000_000;

/// A value that can go to a run: written and read back in the run's byte format.
pub(crate) trait RunKey: Sized + Ord + Hash + Eq + ToString {
    fn put(&self, out: &mut impl Write) -> io::Result<()>;
    fn take(input: &mut impl Read) -> io::Result<Self>;
}

impl RunKey for i64 {
    fn put(&self, out: &mut impl Write) -> io::Result<()> {
        (*self as u64).put(out)
    }
    fn take(input: &mut impl Read) -> io::Result<Self> {
        Ok(u64::take(input)? as i64)
    }
}

impl RunKey for String {
    fn put(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&(self.len() as u64).to_le_bytes())?;
        out.write_all(self.as_bytes())
    }
    fn take(input: &mut impl Read) -> io::Result<Self> {
        let len = u64::take(input)? as usize;
        let mut b = vec![0u8; len];
        input.read_exact(&mut b)?;
        String::from_utf8(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

impl RunKey for u64 {
    fn put(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.to_le_bytes())
    }
    fn take(input: &mut impl Read) -> io::Result<Self> {
        let mut b = [0u8; 8];
        input.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// Values sorted, each with its first row, in a file: one window's, in an anonymous temporary
/// file (removed by the system when it is closed, whatever happens to this process), or a
/// shard's, every value it read, in its output folder ([`Run::open`]).
#[derive(Debug)]
pub(crate) struct Run {
    file: File,
    len: u64,
    /// Added to each row read back: the rows before the shard the run was written by.
    offset: u64,
}

impl Run {
    /// The run of `len` values at `path`, written by a [`RunWriter`].
    pub(crate) fn open(path: &Path, len: u64) -> io::Result<Self> {
        let file = File::open(path)?;
        let bytes = file.metadata()?.len();
        // The smallest a value can be written in: 8 bytes, and 8 for its row.
        if bytes < len.saturating_mul(16) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} holds {bytes} bytes, too few for {len} values",
                    path.display()
                ),
            ));
        }
        Ok(Self {
            file,
            len,
            offset: 0,
        })
    }

    /// The values in the run.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The same run, read as rows after `offset` others.
    pub(crate) fn after(mut self, offset: u64) -> Self {
        self.offset += offset;
        self
    }
}

/// Writes values in order, each with its row, as a [`Run`].
pub(crate) struct RunWriter {
    out: BufWriter<File>,
    len: u64,
}

impl RunWriter {
    pub(crate) fn new(file: File) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 20, file),
            len: 0,
        }
    }

    pub(crate) fn push<K: RunKey>(&mut self, value: &K, row: u64) -> io::Result<()> {
        value.put(&mut self.out)?;
        row.put(&mut self.out)?;
        self.len += 1;
        Ok(())
    }

    pub(crate) fn finish(self) -> io::Result<Run> {
        let file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_data()?;
        Ok(Run {
            file,
            len: self.len,
            offset: 0,
        })
    }
}

/// Moves a window's values to a run in `dir` (the system's temporary directory without one),
/// leaving the window empty with its capacity.
pub(crate) fn spill<K: RunKey>(
    window: &mut HashMap<K, u64>,
    dir: Option<&Path>,
) -> io::Result<Run> {
    let mut entries: Vec<(K, u64)> = window.drain().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let file = match dir {
        Some(dir) => tempfile::tempfile_in(dir)?,
        None => tempfile::tempfile()?,
    };
    let mut out = RunWriter::new(file);
    for (value, row) in &entries {
        out.push(value, *row)?;
    }
    out.finish()
}

/// What the merge of the runs found: repeats across windows (a value in two windows is a repeat
/// at its later row), and the first of them.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Repeats {
    pub count: u64,
    /// The earliest repeat: its row, the row the value was first seen in, the value.
    pub first: Option<(u64, u64, String)>,
}

struct Source<K> {
    input: BufReader<File>,
    left: u64,
    offset: u64,
    _key: std::marker::PhantomData<K>,
}

impl<K: RunKey> Source<K> {
    fn next(&mut self) -> io::Result<Option<(K, u64)>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let value = K::take(&mut self.input)?;
        let row = u64::take(&mut self.input)? + self.offset;
        Ok(Some((value, row)))
    }
}

/// Merges the runs with the values in the window, by value, leaving the window empty. Each
/// value's first row stays its first, and `each` is given the value with that row, in value
/// order; its other rows are repeats.
pub(crate) fn merge<K: RunKey>(
    runs: Vec<Run>,
    window: &mut HashMap<K, u64>,
    mut each: impl FnMut(K, u64) -> io::Result<()>,
) -> io::Result<Repeats> {
    let mut found = Repeats::default();
    let mut last: Vec<(K, u64)> = window.drain().collect();
    last.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut last = last.into_iter();
    let mut sources: Vec<Source<K>> = Vec::with_capacity(runs.len());
    for mut run in runs {
        run.file.rewind()?;
        sources.push(Source {
            input: BufReader::with_capacity(1 << 16, run.file),
            left: run.len,
            offset: run.offset,
            _key: std::marker::PhantomData,
        });
    }
    let window_source = sources.len();
    let mut next = |i: usize| -> io::Result<Option<(K, u64)>> {
        if i == window_source {
            Ok(last.next())
        } else {
            sources[i].next()
        }
    };
    // Smallest value first; within a value, smallest row first.
    let mut heap = BinaryHeap::new();
    for i in 0..=window_source {
        if let Some((value, row)) = next(i)? {
            heap.push(std::cmp::Reverse((value, row, i)));
        }
    }
    while let Some(std::cmp::Reverse((value, first_row, i))) = heap.pop() {
        if let Some((v, r)) = next(i)? {
            heap.push(std::cmp::Reverse((v, r, i)));
        }
        let mut second: Option<u64> = None;
        while heap
            .peek()
            .is_some_and(|std::cmp::Reverse((v, _, _))| *v == value)
        {
            let std::cmp::Reverse((_, row, j)) = heap.pop().expect("peeked");
            if let Some((v, r)) = next(j)? {
                heap.push(std::cmp::Reverse((v, r, j)));
            }
            found.count += 1;
            second.get_or_insert(row);
        }
        if let Some(row) = second
            && found.first.as_ref().is_none_or(|(r, _, _)| row < *r)
        {
            found.first = Some((row, first_row, value.to_string()));
        }
        each(value, first_row)?;
    }
    Ok(found)
}
