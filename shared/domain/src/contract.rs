//! A dataset's contract: what every version of it must satisfy. Inferred from the first accepted
//! version when the user has not written one, stored as TOML, replaceable by the user.

use serde::{Deserialize, Serialize};

use crate::{DatasetName, DomainError};

/// The logical type of a column. `float` accepts integers too; `string` accepts anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Float,
    Boolean,
    String,
}

impl ColumnType {
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Float)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::String => "string",
        }
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ColumnContract {
    pub name: String,
    #[serde(rename = "type")]
    pub dtype: ColumnType,
    /// Whether the column may hold nulls (empty CSV fields, JSON nulls).
    #[serde(default)]
    pub nullable: bool,
    /// The largest share of nulls accepted, when `nullable`; absent means any share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_null_fraction: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The only values allowed, for categorical columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
}

/// What drift past a threshold does to an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DriftAction {
    /// Accept the upload and report the drift.
    #[default]
    Warn,
    /// Quarantine the upload.
    Reject,
}

/// Thresholds past which a column counts as drifted. Statistics rather than p-values, because on
/// large uploads every p-value is tiny.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct DriftThresholds {
    pub action: DriftAction,
    /// Numeric columns: the two-sample Kolmogorov-Smirnov statistic.
    pub ks: Option<f64>,
    /// Numeric columns: the population stability index over the previous version's deciles.
    pub psi: Option<f64>,
    /// Numeric columns: the Wasserstein-1 distance, in the column's unit.
    pub wasserstein: Option<f64>,
    /// Categorical columns: the Jensen-Shannon distance (base 2, in [0, 1]).
    pub jensen_shannon: Option<f64>,
    /// Categorical columns: the largest change of one category's share.
    pub linf: Option<f64>,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        Self {
            action: DriftAction::Warn,
            ks: Some(0.1),
            psi: Some(0.2),
            wasserstein: None,
            jensen_shannon: Some(0.1),
            linf: Some(0.1),
        }
    }
}

impl DriftThresholds {
    /// The threshold for a statistic by its report name, if one is set.
    pub fn for_statistic(&self, statistic: &str) -> Option<f64> {
        match statistic {
            "ks" => self.ks,
            "psi" => self.psi,
            "wasserstein" => self.wasserstein,
            "jensen_shannon" => self.jensen_shannon,
            "linf" => self.linf,
            _ => None,
        }
    }
}

fn default_min_rows() -> u64 {
    1
}

/// The spellings of a missing value that R, pandas, spreadsheets and UCI files write: read as
/// missing in CSV uploads unless a contract lists others. The empty field is one of them.
pub const NULL_VALUES: [&str; 9] = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"];

fn default_null_values() -> Vec<String> {
    NULL_VALUES.iter().map(|v| (*v).to_owned()).collect()
}

/// The contract file (`contracts/<dataset>.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub dataset: DatasetName,
    /// Fewest data rows accepted; never below 1 (an empty upload is always refused).
    #[serde(default = "default_min_rows")]
    pub min_rows: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
    /// Whether columns the contract does not name are accepted.
    #[serde(default)]
    pub allow_extra_columns: bool,
    /// The CSV fields that mean "missing", in every column (whole field, case-sensitive); absent,
    /// the [`NULL_VALUES`]. A value in a number column that is neither a number nor one of these
    /// is still a finding. Without `""` here, an empty field is an empty string.
    #[serde(default = "default_null_values")]
    pub null_values: Vec<String>,
    #[serde(default)]
    pub drift: DriftThresholds,
    #[serde(rename = "column", default)]
    pub columns: Vec<ColumnContract>,
}

impl Contract {
    /// A contract with the defaults: at least one row, no extra columns, default drift thresholds.
    pub fn new(dataset: DatasetName, columns: Vec<ColumnContract>) -> Self {
        Self {
            dataset,
            min_rows: 1,
            max_rows: None,
            allow_extra_columns: false,
            null_values: default_null_values(),
            drift: DriftThresholds::default(),
            columns,
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnContract> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Parses a contract file; errors name the line and the reason.
    pub fn from_toml(text: &str) -> Result<Self, DomainError> {
        let contract: Contract =
            toml::from_str(text).map_err(|e| DomainError::from_toml("contract", text, &e))?;
        contract.check(text)?;
        Ok(contract)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a contract always serializes to TOML")
    }

    fn check(&self, text: &str) -> Result<(), DomainError> {
        let fail = |needle: &str, reason: String| {
            DomainError::in_file("contract", text, text.find(needle).unwrap_or(0), reason)
        };
        if self.min_rows == 0 {
            return Err(fail("min_rows", "min_rows must be at least 1".into()));
        }
        if let Some(max) = self.max_rows
            && max < self.min_rows
        {
            return Err(fail(
                "max_rows",
                format!("max_rows {max} is below min_rows {}", self.min_rows),
            ));
        }
        if self.columns.is_empty() {
            return Err(fail(
                "dataset",
                "a contract names at least one [[column]]".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.columns {
            let here = format!("\"{}\"", c.name);
            if c.name.is_empty() {
                return Err(fail("name", "a column name must not be empty".into()));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(fail(&here, format!("column {:?} is named twice", c.name)));
            }
            if let (Some(lo), Some(hi)) = (c.min, c.max)
                && lo > hi
            {
                return Err(fail(
                    &here,
                    format!("column {:?}: min {lo} is above max {hi}", c.name),
                ));
            }
            if (c.min.is_some() || c.max.is_some()) && !c.dtype.is_numeric() {
                return Err(fail(
                    &here,
                    format!(
                        "column {:?}: min and max apply to integer and float columns",
                        c.name
                    ),
                ));
            }
            if let Some(f) = c.max_null_fraction
                && !(0.0..=1.0).contains(&f)
            {
                return Err(fail(
                    &here,
                    format!(
                        "column {:?}: max_null_fraction must be between 0 and 1",
                        c.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Contract {
        Contract {
            dataset: DatasetName::parse("iris").unwrap(),
            min_rows: 1,
            max_rows: None,
            allow_extra_columns: false,
            null_values: default_null_values(),
            drift: DriftThresholds::default(),
            columns: vec![ColumnContract {
                name: "species".into(),
                dtype: ColumnType::String,
                nullable: false,
                max_null_fraction: None,
                min: None,
                max: None,
                allowed_values: Some(vec!["setosa".into(), "virginica".into()]),
                unique: false,
            }],
        }
    }

    #[test]
    fn a_contract_survives_a_round_trip_through_toml() {
        let c = sample();
        assert_eq!(Contract::from_toml(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn a_bad_contract_file_names_the_line_and_the_reason() {
        let text = "dataset = \"iris\"\n\n[[column]]\nname = \"x\"\ntype = \"decimal\"\n";
        let err = Contract::from_toml(text).unwrap_err().to_string();
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("decimal"), "{err}");
    }

    #[test]
    fn a_contract_with_min_above_max_is_refused_at_its_column() {
        let text =
            "dataset = \"d\"\n[[column]]\nname = \"age\"\ntype = \"integer\"\nmin = 9\nmax = 1\n";
        let err = Contract::from_toml(text).unwrap_err().to_string();
        assert!(
            err.contains("line 3") && err.contains("min 9 is above max 1"),
            "{err}"
        );
    }

    #[test]
    fn zero_min_rows_is_refused() {
        let text = "dataset = \"d\"\nmin_rows = 0\n[[column]]\nname = \"a\"\ntype = \"string\"\n";
        assert!(
            Contract::from_toml(text)
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
    }
}
