//! Where the charts' marks go, computed in numbers: scales, polylines, histogram bars, bars
//! against a threshold, scatter points and the lineage graph's layers. No DOM, so each is
//! tested with plain unit tests; the components only turn these numbers into SVG.

use std::collections::HashMap;

/// A linear map from a data range onto pixels, for the SVG charts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    low: f64,
    high: f64,
    from: f64,
    to: f64,
}

impl Scale {
    /// Maps `[low, high]` (widened when empty) onto `[from, to]`.
    pub fn new(low: f64, high: f64, from: f64, to: f64) -> Self {
        let (low, high) = if (high - low).abs() < f64::EPSILON {
            (low - 0.5, high + 0.5)
        } else {
            (low, high)
        };
        Self {
            low,
            high,
            from,
            to,
        }
    }

    /// The range of `values` (finite ones), mapped onto `[from, to]`.
    pub fn fit(values: impl IntoIterator<Item = f64>, from: f64, to: f64) -> Self {
        let (low, high) = values
            .into_iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        if low > high {
            return Self::new(0.0, 1.0, from, to);
        }
        Self::new(low, high, from, to)
    }

    pub fn at(&self, value: f64) -> f64 {
        self.from + (value - self.low) / (self.high - self.low) * (self.to - self.from)
    }
}

/// A metric across a model's versions, as SVG polyline points in a `width` x `height` box
/// (higher values drawn higher), in version order.
pub fn polyline(points: &[(u32, f64)], width: f64, height: f64, margin: f64) -> String {
    let x = Scale::fit(
        points.iter().map(|p| f64::from(p.0)),
        margin,
        width - margin,
    );
    let y = Scale::fit(points.iter().map(|p| p.1), height - margin, margin);
    points
        .iter()
        .map(|(v, m)| format!("{:.1},{:.1}", x.at(f64::from(*v)), y.at(*m)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The smallest and largest finite values, for a chart's caption to say what its box spans.
pub fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |range, v| match range {
            None => Some((v, v)),
            Some((low, high)) => Some((f64::min(low, v), f64::max(high, v))),
        })
}

/// A bar of a bar chart, in the chart's box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A histogram's bars side by side across `width`, the tallest `height` high, standing on the
/// bottom of the box; a bar of zero count has no height.
pub fn histogram_bars(counts: &[u64], width: f64, height: f64) -> Vec<Bar> {
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = width / counts.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let h = count as f64 / tallest * height;
            Bar {
                x: i as f64 * step,
                y: height - h,
                width: (step - 1.0).max(0.5),
                height: h,
            }
        })
        .collect()
}

/// A statistic drawn against its threshold in a strip `width` wide: how long its bar is, and
/// where the threshold's mark stands. The strip holds the larger of the two with room to see
/// which side of the mark the bar ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgainstThreshold {
    pub bar: f64,
    pub mark: Option<f64>,
}

pub fn against_threshold(value: f64, threshold: Option<f64>, width: f64) -> AgainstThreshold {
    let value = if value.is_finite() {
        value.max(0.0)
    } else {
        0.0
    };
    let top = value.max(threshold.unwrap_or(0.0)) * 1.25;
    if top <= 0.0 {
        return AgainstThreshold {
            bar: 0.0,
            mark: threshold.map(|_| 0.0),
        };
    }
    AgainstThreshold {
        bar: value / top * width,
        mark: threshold.map(|t| t / top * width),
    }
}

/// Whether values spanning orders of magnitude (a learning rate, a regularization strength)
/// read better on a log axis: all positive, the largest at least 100 times the smallest.
pub fn wants_log(values: &[f64]) -> bool {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    low > 0.0 && high / low >= 100.0
}

/// Points `(x, y)` placed in a `width` x `height` box with a `margin`, higher `y` higher, on a
/// log `x` axis when asked.
pub fn scatter(
    points: &[(f64, f64)],
    width: f64,
    height: f64,
    margin: f64,
    log_x: bool,
) -> Vec<(f64, f64)> {
    let x_of = |x: f64| if log_x { x.log10() } else { x };
    let x = Scale::fit(points.iter().map(|p| x_of(p.0)), margin, width - margin);
    let y = Scale::fit(points.iter().map(|p| p.1), height - margin, margin);
    points
        .iter()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .map(|&(px, py)| (x.at(x_of(px)), y.at(py)))
        .collect()
}

/// Where each node of a graph goes, as `(layer, row)`: a node's layer is the longest path to
/// it from a node nothing leads to, so every edge points to a later layer; rows count the
/// nodes of a layer in the order given. A cycle (which a lineage never has) cannot loop: the
/// layers stop growing after as many rounds as there are nodes.
pub fn layers(nodes: &[&str], edges: &[(&str, &str)]) -> Vec<(usize, usize)> {
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let links: Vec<(usize, usize)> = edges
        .iter()
        .filter_map(|(from, to)| Some((*index.get(from)?, *index.get(to)?)))
        .collect();
    let mut layer = vec![0usize; nodes.len()];
    for _ in 0..nodes.len() {
        let mut changed = false;
        for &(from, to) in &links {
            if layer[to] < layer[from] + 1 {
                layer[to] = layer[from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut filled: HashMap<usize, usize> = HashMap::new();
    layer
        .into_iter()
        .map(|l| {
            let row = filled.entry(l).or_default();
            *row += 1;
            (l, *row - 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_map_values_into_their_box_higher_is_higher() {
        let s = Scale::new(0.0, 10.0, 100.0, 0.0);
        assert_eq!(s.at(0.0), 100.0);
        assert_eq!(s.at(10.0), 0.0);
        // One value, or none, still draws inside the box.
        assert_eq!(Scale::fit([3.0], 0.0, 10.0).at(3.0), 5.0);
        assert_eq!(Scale::fit([], 0.0, 10.0).at(0.5), 5.0);
        assert_eq!(
            polyline(&[(1, 0.5), (2, 0.7)], 120.0, 60.0, 10.0),
            "10.0,50.0 110.0,10.0"
        );
    }

    #[test]
    fn the_extent_is_of_the_finite_values() {
        assert_eq!(extent([3.0, f64::NAN, -1.0, 2.0]), Some((-1.0, 3.0)));
        assert_eq!(extent([f64::INFINITY]), None);
        assert_eq!(extent([]), None);
    }

    #[test]
    fn a_histogram_stands_on_the_bottom_with_the_tallest_bin_full_height() {
        let bars = histogram_bars(&[2, 4, 0], 30.0, 100.0);
        assert_eq!(bars.len(), 3);
        assert_eq!((bars[0].x, bars[0].y, bars[0].height), (0.0, 50.0, 50.0));
        assert_eq!((bars[1].x, bars[1].y, bars[1].height), (10.0, 0.0, 100.0));
        assert_eq!(bars[2].height, 0.0);
        assert_eq!(bars[1].width, 9.0);
        assert!(histogram_bars(&[], 30.0, 100.0).is_empty());
    }

    #[test]
    fn a_statistic_past_its_threshold_ends_past_the_mark() {
        let past = against_threshold(0.3, Some(0.2), 100.0);
        assert!(past.bar > past.mark.unwrap());
        assert_eq!(past.bar, 80.0);
        let within = against_threshold(0.1, Some(0.2), 100.0);
        assert!(within.bar < within.mark.unwrap());
        assert_eq!(within.mark, Some(80.0));
        assert_eq!(against_threshold(0.5, None, 100.0).mark, None);
        assert_eq!(against_threshold(f64::NAN, Some(0.0), 100.0).bar, 0.0);
    }

    #[test]
    fn scatter_points_fill_the_box_and_spans_of_magnitudes_go_on_a_log_axis() {
        assert!(wants_log(&[0.001, 0.01, 0.3]));
        assert!(!wants_log(&[1.0, 50.0]));
        assert!(!wants_log(&[0.0, 10.0, 1000.0]));
        let placed = scatter(
            &[(0.001, 1.0), (0.1, 2.0), (0.01, f64::NAN)],
            120.0,
            60.0,
            10.0,
            true,
        );
        assert_eq!(placed, vec![(10.0, 50.0), (110.0, 10.0)]);
    }

    #[test]
    fn every_edge_of_a_graph_points_to_a_later_layer() {
        let nodes = ["upload", "dataset", "contract", "run", "model"];
        let edges = [
            ("upload", "dataset"),
            ("contract", "dataset"),
            ("dataset", "run"),
            ("run", "model"),
            ("upload", "model"),
        ];
        let placed = layers(&nodes, &edges);
        assert_eq!(placed, vec![(0, 0), (1, 0), (0, 1), (2, 0), (3, 0)]);
        // A cycle stops instead of looping.
        assert_eq!(layers(&["a", "b"], &[("a", "b"), ("b", "a")]).len(), 2);
    }
}
