//! Private cluster (placeholder).
