//! Entry points for fuzz targets and property tests. Not part of the stable API.

pub mod dns;
