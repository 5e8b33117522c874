//! Chart geometry: where each bar, column and label of a server-drawn SVG chart goes.
//!
//! Only numbers and strings leave this module; `templates/charts.html` draws them, escaping
//! every label. Coordinates are in the SVG's own units: the picture scales to its box.

pub(super) use super::series::Category;
use super::timeline::Timeline;

/// The bars a chart shows at most; its table lists the rest.
pub(super) const MAX_BARS: usize = 15;
/// Labels longer than this are cut (the full text is in the tooltip and the table).
const MAX_LABEL_CHARS: usize = 24;

const WIDTH: f64 = 600.0;
/// Where the bars start: left of it, the labels.
const LABEL_WIDTH: f64 = 210.0;
/// Room right of the longest bar for its count.
const COUNT_WIDTH: f64 = 48.0;
const BAR_HEIGHT: f64 = 16.0;
const ROW_GAP: f64 = 10.0;
const TOP: f64 = 6.0;

/// A horizontal bar chart: one row per category, one bar per series in each row.
#[derive(Debug, Clone)]
pub(super) struct BarChart {
    /// Says what the chart shows, for screen readers.
    pub title: String,
    pub width: f64,
    pub height: f64,
    /// The x of the bars' common baseline.
    pub baseline: f64,
    /// Where labels end, right-aligned, just left of the baseline.
    pub label_x: f64,
    pub rows: Vec<BarRow>,
}

#[derive(Debug, Clone)]
pub(super) struct BarRow {
    /// The label as drawn, perhaps shortened.
    pub label: String,
    /// The whole label, for the tooltip when the drawn one is cut.
    pub full_label: String,
    pub label_y: f64,
    pub bars: Vec<Bar>,
}

#[derive(Debug, Clone)]
pub(super) struct Bar {
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub count: i64,
    /// Where the count is written: just right of the bar.
    pub count_x: f64,
    pub count_y: f64,
    /// The colour class: one per series.
    pub series: usize,
    /// The exact words a hover shows: full label, series, count.
    pub tooltip: String,
}

impl BarChart {
    /// Lays out up to [`MAX_BARS`] categories; `series` names each count (empty when there
    /// is only one series, so tooltips say just the label and the count).
    pub(super) fn new(
        title: &str,
        categories: &[Category],
        series: &[String],
        unit: &str,
    ) -> BarChart {
        let categories = &categories[..categories.len().min(MAX_BARS)];
        let max = categories
            .iter()
            .flat_map(|c| c.counts.iter().copied())
            .max()
            .unwrap_or(0)
            .max(1);
        let span = WIDTH - LABEL_WIDTH - COUNT_WIDTH;
        let per_row = categories.first().map_or(1, |c| c.counts.len().max(1));
        let row_height = BAR_HEIGHT * per_row as f64 + ROW_GAP;
        let rows = categories
            .iter()
            .enumerate()
            .map(|(i, category)| {
                let top = TOP + i as f64 * row_height;
                let bars = category
                    .counts
                    .iter()
                    .enumerate()
                    .map(|(s, &count)| {
                        // A bar of a non-zero count stays visible, however small.
                        let width = match count {
                            0 => 0.0,
                            _ => (span * count as f64 / max as f64).max(2.0),
                        };
                        let y = top + s as f64 * BAR_HEIGHT;
                        let who = match series.get(s) {
                            Some(name) if series.len() > 1 => format!(" ({name})"),
                            _ => String::new(),
                        };
                        Bar {
                            y: round(y),
                            width: round(width),
                            height: BAR_HEIGHT - 2.0,
                            count,
                            count_x: round(LABEL_WIDTH + width + 6.0),
                            count_y: round(y + BAR_HEIGHT / 2.0),
                            series: s,
                            tooltip: format!("{}{who}: {count} {unit}", category.label),
                        }
                    })
                    .collect();
                BarRow {
                    label: shorten(&category.label),
                    full_label: category.label.clone(),
                    label_y: round(top + (row_height - ROW_GAP) / 2.0),
                    bars,
                }
            })
            .collect::<Vec<_>>();
        BarChart {
            title: title.to_owned(),
            width: WIDTH,
            height: round(TOP * 2.0 + rows.len() as f64 * row_height - ROW_GAP),
            baseline: LABEL_WIDTH,
            label_x: LABEL_WIDTH - 8.0,
            rows,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

const COLUMN_AREA_HEIGHT: f64 = 160.0;
const COLUMN_LEFT: f64 = 40.0;
const COLUMN_BOTTOM: f64 = 24.0;
/// Labels along the time axis at most: six 10-character dates fit 600 units with room
/// between them, even when the last one is pulled left to stay inside the picture.
const MAX_TICKS: usize = 6;
/// How wide one character of a tick label is, at least, in the SVG's units (11 px digits).
const TICK_CHAR_WIDTH: f64 = 7.0;

/// A column chart over time: one group of columns per bin of a [`Timeline`], one column
/// per series.
#[derive(Debug, Clone)]
pub(super) struct ColumnChart {
    pub title: String,
    pub width: f64,
    pub height: f64,
    /// The y of the axis the columns stand on.
    pub axis_y: f64,
    pub left: f64,
    pub max: i64,
    pub max_y: f64,
    pub columns: Vec<Column>,
    pub ticks: Vec<Tick>,
}

#[derive(Debug, Clone)]
pub(super) struct Column {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub series: usize,
    pub tooltip: String,
}

#[derive(Debug, Clone)]
pub(super) struct Tick {
    pub x: f64,
    pub label: String,
    /// The CSS class that anchors the text: "" (middle), "start" or "end", so a label at
    /// either edge stays inside the picture.
    pub align: &'static str,
}

impl ColumnChart {
    /// The bins of `timeline`, each with its count per series, evenly spaced in time.
    pub(super) fn new(
        title: &str,
        timeline: &Timeline,
        series: &[String],
        unit: &str,
    ) -> ColumnChart {
        let bins = &timeline.bins;
        let max = bins
            .iter()
            .flat_map(|d| d.counts.iter().copied())
            .max()
            .unwrap_or(0)
            .max(1);
        let span = WIDTH - COLUMN_LEFT - 8.0;
        let slot = span / bins.len().max(1) as f64;
        let per_bin = bins.first().map_or(1, |d| d.counts.len().max(1));
        // Columns of one bin touch; bins are apart by a fifth of a slot.
        let column_width = (slot * 0.8 / per_bin as f64).min(40.0);
        let axis_y = TOP + COLUMN_AREA_HEIGHT;
        let mut columns = Vec::new();
        for (i, bin) in bins.iter().enumerate() {
            let group = column_width * per_bin as f64;
            let start = COLUMN_LEFT + i as f64 * slot + (slot - group) / 2.0;
            for (s, &count) in bin.counts.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let height = (COLUMN_AREA_HEIGHT * count as f64 / max as f64).max(2.0);
                let who = match series.get(s) {
                    Some(name) if series.len() > 1 => format!(" ({name})"),
                    _ => String::new(),
                };
                columns.push(Column {
                    x: round(start + s as f64 * column_width),
                    y: round(axis_y - height),
                    width: round(column_width),
                    height: round(height),
                    series: s,
                    tooltip: format!("{}{who}: {count} {unit}", timeline.bin.describe(&bin.label)),
                });
            }
        }
        // Counted back from the last bin, so the latest one is always labelled.
        let every = bins.len().div_ceil(MAX_TICKS).max(1);
        let last = bins.len().saturating_sub(1);
        let mut ticks: Vec<Tick> = bins
            .iter()
            .enumerate()
            .filter(|(i, _)| (last - i).is_multiple_of(every))
            .map(|(i, bin)| {
                let centre = COLUMN_LEFT + (i as f64 + 0.5) * slot;
                let half = bin.label.chars().count() as f64 * TICK_CHAR_WIDTH / 2.0;
                let (x, align) = if centre + half > WIDTH {
                    (WIDTH - 1.0, "end")
                } else if centre - half < 0.0 {
                    (1.0, "start")
                } else {
                    (centre, "")
                };
                Tick {
                    x: round(x),
                    label: bin.label.clone(),
                    align,
                }
            })
            .collect();
        // A label crowded by the one right of it (pulled left at the edge) gives way.
        let extent = |t: &Tick| {
            let room = t.label.chars().count() as f64 * TICK_CHAR_WIDTH;
            match t.align {
                "start" => (t.x, t.x + room),
                "end" => (t.x - room, t.x),
                _ => (t.x - room / 2.0, t.x + room / 2.0),
            }
        };
        let mut kept: Vec<Tick> = Vec::with_capacity(ticks.len());
        while let Some(tick) = ticks.pop() {
            let fits = kept
                .last()
                .is_none_or(|right| extent(&tick).1 + 4.0 <= extent(right).0);
            if fits {
                kept.push(tick);
            }
        }
        kept.reverse();
        let ticks = kept;
        ColumnChart {
            title: title.to_owned(),
            width: WIDTH,
            height: axis_y + COLUMN_BOTTOM,
            axis_y,
            left: COLUMN_LEFT,
            max,
            max_y: TOP,
            columns,
            ticks,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

/// One decimal is finer than any screen shows, and keeps the markup short.
fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Cuts a label to [`MAX_LABEL_CHARS`] characters, marking the cut.
fn shorten(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_owned()
    } else {
        let kept: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        format!("{kept}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::timeline::Fold;

    #[test]
    fn the_longest_bar_fills_the_span_and_small_ones_stay_visible() {
        let categories = vec![
            Category {
                label: "git".into(),
                counts: vec![1000],
            },
            Category {
                label: "x".repeat(40),
                counts: vec![1],
            },
        ];
        let chart = BarChart::new("t", &categories, &[], "failures");
        assert_eq!(
            chart.rows[0].bars[0].width,
            WIDTH - LABEL_WIDTH - COUNT_WIDTH
        );
        assert_eq!(chart.rows[1].bars[0].width, 2.0);
        assert_eq!(chart.rows[1].label.chars().count(), MAX_LABEL_CHARS);
        assert_eq!(chart.rows[0].bars[0].tooltip, "git: 1000 failures");
    }

    #[test]
    fn days_get_at_most_a_few_ticks_and_the_last_day_is_labelled_inside() {
        let days: Vec<(i64, Vec<i64>)> = (0..30).map(|d| (20_000 + d, vec![d, 0])).collect();
        let timeline = Timeline::new(&days, 2, Fold::Sum);
        let chart = ColumnChart::new("t", &timeline, &["a".into(), "b".into()], "failures");
        assert!(chart.ticks.len() <= MAX_TICKS);
        assert_eq!(chart.columns.len(), 29, "zero counts draw nothing");
        assert!(chart.columns.iter().all(|c| c.y >= chart.max_y - 0.1));
        let last = chart.ticks.last().unwrap();
        assert_eq!(last.label, timeline.bins[29].label);
        assert_eq!(last.align, "end");
        assert!(last.x <= chart.width);
        assert_eq!(
            chart.columns[0].tooltip,
            format!("{} (a): 1 failures", timeline.bins[1].label)
        );
    }

    /// The chart alone, drawn by the page's own macro.
    #[derive(askama::Template)]
    #[template(
        source = "{% import \"charts.html\" as charts %}{% call charts::column_chart(chart) %}{% endcall %}",
        ext = "html"
    )]
    struct Drawn {
        chart: ColumnChart,
    }

    /// Each drawn tick label: x, its anchor class, its text.
    fn drawn_ticks(svg: &str) -> Vec<(f64, String, String)> {
        svg.split("<text class=\"tick")
            .skip(1)
            .map(|rest| {
                let class = rest[..rest.find('"').unwrap()].trim().to_owned();
                let x = rest.split("x=\"").nth(1).unwrap();
                let x: f64 = x[..x.find('"').unwrap()].parse().unwrap();
                let text = rest.split('>').nth(1).unwrap();
                (x, class, text[..text.find('<').unwrap()].to_owned())
            })
            .collect()
    }

    #[test]
    fn a_drawn_charts_last_label_lies_within_its_view_box() {
        use askama::Template;
        // The span: the last label read "2026-11-0", cut at the right edge.
        for (first, last) in [(20_000, 20_001), (20_000, 20_055), (19_700, 20_419)] {
            let days = [(first, vec![1]), (last, vec![2])];
            let timeline = Timeline::new(&days, 1, Fold::Sum);
            let svg = Drawn {
                chart: ColumnChart::new("t", &timeline, &[], "failures"),
            }
            .render()
            .unwrap();
            let view_box = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
            let width: f64 = view_box.split(' ').next().unwrap().parse().unwrap();
            let ticks = drawn_ticks(&svg);
            let (x, class, text) = ticks.last().unwrap();
            assert_eq!(text, &timeline.bins.last().unwrap().label, "{svg}");
            let room = text.chars().count() as f64 * TICK_CHAR_WIDTH;
            let (left, right) = match class.as_str() {
                "end" => (x - room, *x),
                "start" => (*x, x + room),
                _ => (x - room / 2.0, x + room / 2.0),
            };
            assert!(
                left >= 0.0 && right <= width,
                "{text} at {x} ({class}) in {width}"
            );
        }
    }
}
