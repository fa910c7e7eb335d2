//! Load generator for Eddy (being written).

fn main() {}
