"""gristmill.filters: stages that score or drop documents (rules, PII, license policy,
dedupe, classifiers). Each filter is one module with one Stage class."""
