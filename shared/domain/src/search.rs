//! Hyperparameter search spaces and values, as a pipeline file declares them and a training job
//! receives them (SageMaker passes every hyperparameter as a string).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// One hyperparameter's range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ParamSpec {
    Uniform {
        low: f64,
        high: f64,
    },
    LogUniform {
        low: f64,
        high: f64,
    },
    Int {
        low: i64,
        high: i64,
        #[serde(default)]
        log: bool,
    },
    Choice {
        values: Vec<ParamValue>,
    },
}

/// A hyperparameter's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl ParamValue {
    /// The value as SageMaker's `hyperparameters.json` carries it: a string.
    pub fn to_job_string(&self) -> String {
        match self {
            Self::Int(i) => i.to_string(),
            Self::Float(f) => format!("{f}"),
            Self::Bool(b) => b.to_string(),
            Self::Text(s) => s.clone(),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(i) => Some(*i as f64),
            Self::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// One trial's hyperparameters, by name.
pub type Hyperparameters = BTreeMap<String, ParamValue>;

/// A search space: each named hyperparameter and its range.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct SearchSpace(pub BTreeMap<String, ParamSpec>);

impl SearchSpace {
    /// Refuses empty, reversed or impossible ranges, naming the parameter.
    pub fn check(&self) -> Result<(), DomainError> {
        for (name, spec) in &self.0 {
            let bad = |reason: String| Err(DomainError::invalid("search space", name, reason));
            match spec {
                ParamSpec::Uniform { low, high }
                    if !(low.is_finite() && high.is_finite() && low < high) =>
                {
                    return bad(format!(
                        "uniform needs finite low < high, got [{low}, {high}]"
                    ));
                }
                ParamSpec::LogUniform { low, high }
                    if !(*low > 0.0 && high.is_finite() && low < high) =>
                {
                    return bad(format!(
                        "log_uniform needs 0 < low < high, got [{low}, {high}]"
                    ));
                }
                ParamSpec::Int { low, high, log } if low > high || (*log && *low < 1) => {
                    return bad(format!(
                        "int needs low <= high{}, got [{low}, {high}]",
                        if *log {
                            " and low >= 1 on a log scale"
                        } else {
                            ""
                        }
                    ));
                }
                ParamSpec::Choice { values } if values.is_empty() => {
                    return bad("choice needs at least one value".into());
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_space_reads_from_toml_and_refuses_reversed_ranges() {
        let space: SearchSpace = toml::from_str(
            "alpha = { type = \"log_uniform\", low = 1e-4, high = 1.0 }\n\
             depth = { type = \"int\", low = 2, high = 12 }\n\
             kernel = { type = \"choice\", values = [\"linear\", \"rbf\"] }\n",
        )
        .unwrap();
        assert!(space.check().is_ok());
        assert_eq!(
            space.0["depth"],
            ParamSpec::Int {
                low: 2,
                high: 12,
                log: false
            }
        );
        let reversed = SearchSpace(BTreeMap::from([(
            "lr".to_owned(),
            ParamSpec::Uniform {
                low: 1.0,
                high: 0.1,
            },
        )]));
        assert!(reversed.check().unwrap_err().to_string().contains("\"lr\""));
    }

    #[test]
    fn values_reach_the_job_as_strings() {
        assert_eq!(ParamValue::Float(0.5).to_job_string(), "0.5");
        assert_eq!(ParamValue::Int(7).to_job_string(), "7");
        assert_eq!(ParamValue::Text("rbf".into()).to_job_string(), "rbf");
    }
}
